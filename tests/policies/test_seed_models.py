"""`cockpit seed-models --from-env`: parsing the provider lists, the diff with the catalog, idempotence,
admin edits kept, unlisted models left alone, SYSTEM audit events, and the printed report. The database
tests run against a fresh database of their own, so the catalog starts empty whatever other tests do."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.migrate import upgrade_to_head
from cockpit_graphql.db.tables import CatalogModel, PlatformAuditEvent
from cockpit_graphql.domain.actor import SYSTEM_ACTOR, Operation
from cockpit_graphql.domain.models.catalog import Capability, ModelChanges, Provider, update_model
from cockpit_graphql.domain.models.seed import (
    Ignored,
    WantedModel,
    guess_capability,
    plan_seed,
    seed_models,
    wanted_from_env,
)
from cockpit_graphql.ops.database import create_database, drop_database
from cockpit_graphql.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COCKPIT = str(Path(sys.executable).parent / "cockpit")
OP = Operation(SYSTEM_ACTOR, "test-seed")
ENV = {
    "COCKPIT_MODELS_AZURE_OPENAI": "gpt-4o, gpt-4.1-mini,dall-e-3",
    "COCKPIT_MODELS_ANTHROPIC": "claude-sonnet-4",
    "COCKPIT_MODELS_VERTEX": "gemini-2.5-pro,text-embedding-005,imagen-3.0-generate-002",
    "PATH": "/usr/bin",  # unrelated variables are not read
}


# --- the pure part --------------------------------------------------------------------------------


def test_env_lists_become_wanted_models_in_order() -> None:
    wanted, ignored, variables = wanted_from_env(ENV)
    assert [m.name for m in wanted] == [
        "ANTHROPIC/claude-sonnet-4",
        "AZURE_OPENAI/gpt-4o",
        "AZURE_OPENAI/gpt-4.1-mini",
        "AZURE_OPENAI/dall-e-3",
        "VERTEX/gemini-2.5-pro",
        "VERTEX/text-embedding-005",
        "VERTEX/imagen-3.0-generate-002",
    ]
    assert ignored == []
    assert variables == ["COCKPIT_MODELS_ANTHROPIC", "COCKPIT_MODELS_AZURE_OPENAI", "COCKPIT_MODELS_VERTEX"]
    assert {m.provider_model_id: m.capabilities for m in wanted} == {
        "claude-sonnet-4": (Capability.CHAT,),
        "gpt-4o": (Capability.CHAT,),
        "gpt-4.1-mini": (Capability.CHAT,),
        "dall-e-3": (Capability.IMAGE,),
        "gemini-2.5-pro": (Capability.CHAT,),
        "text-embedding-005": (Capability.EMBEDDING,),
        "imagen-3.0-generate-002": (Capability.IMAGE,),
    }


@pytest.mark.parametrize(
    ("ident", "capability"),
    [
        ("gpt-image-1", Capability.IMAGE),
        ("DALL-E-2", Capability.IMAGE),
        ("amazon.titan-embed-text-v2", Capability.EMBEDDING),
        ("mistral-embed", Capability.EMBEDDING),
        ("grok-4", Capability.CHAT),
    ],
)
def test_capability_guess(ident: str, capability: Capability) -> None:
    assert guess_capability(ident) is capability


def test_malformed_entries_are_reported_never_fatal() -> None:
    env = {
        "COCKPIT_MODELS_OPENAI": " gpt-4o ,, gpt 4o,gpt-4o,,x" + "y" * 200 + ",o3,",
        "COCKPIT_MODELS_XAI": "   ",  # set but empty: nothing wanted, nothing to complain about
        "COCKPIT_MODELS_ACME": "rocket-1",
        "cockpit_models_mistral": "mistral-large",  # the names are case-insensitive
    }
    wanted, ignored, variables = wanted_from_env(env)
    assert [m.name for m in wanted] == ["OPENAI/gpt-4o", "OPENAI/o3", "MISTRAL/mistral-large"]
    assert variables == ["COCKPIT_MODELS_OPENAI", "COCKPIT_MODELS_XAI", "cockpit_models_mistral"]
    assert [(i.variable, i.reason) for i in ignored] == [
        (
            "COCKPIT_MODELS_ACME",
            "unknown provider 'ACME'; known: AZURE_OPENAI, ANTHROPIC, XAI, VERTEX, OPENAI, MISTRAL, BEDROCK",
        ),
        ("COCKPIT_MODELS_OPENAI", "entry 2 is empty"),
        ("COCKPIT_MODELS_OPENAI", "the id must not contain whitespace."),
        ("COCKPIT_MODELS_OPENAI", "listed twice"),
        ("COCKPIT_MODELS_OPENAI", "entry 5 is empty"),
        ("COCKPIT_MODELS_OPENAI", "the id is longer than 200 characters."),
        ("COCKPIT_MODELS_OPENAI", "entry 8 is empty"),
    ]
    assert str(ignored[2]) == "COCKPIT_MODELS_OPENAI: 'gpt 4o' (the id must not contain whitespace.)"
    assert wanted_from_env({}) == ([], [], [])


def test_plan_on_an_empty_and_a_populated_catalog() -> None:
    wanted, _, _ = wanted_from_env(ENV)
    empty = plan_seed(wanted, [])
    assert (len(empty.added), empty.kept, empty.left_alone) == (7, [], [])
    catalog = [("AZURE_OPENAI", "gpt-4o"), ("VERTEX", "gemini-2.5-pro"), ("OPENAI", "o1"), ("XAI", "grok-3")]
    populated = plan_seed(wanted, catalog)
    assert populated.kept == ["AZURE_OPENAI/gpt-4o", "VERTEX/gemini-2.5-pro"]
    assert populated.added == [
        "ANTHROPIC/claude-sonnet-4",
        "AZURE_OPENAI/gpt-4.1-mini",
        "AZURE_OPENAI/dall-e-3",
        "VERTEX/text-embedding-005",
        "VERTEX/imagen-3.0-generate-002",
    ]
    assert populated.left_alone == ["OPENAI/o1", "XAI/grok-3"]
    assert plan_seed([WantedModel(Provider.OPENAI, "GPT-4o")], [("OPENAI", "gpt-4o")]).added == ["OPENAI/GPT-4o"]
    populated.ignored = [Ignored("COCKPIT_MODELS_OPENAI", "a b", "the id must not contain whitespace.")]
    populated.variables = ["COCKPIT_MODELS_AZURE_OPENAI"]
    assert populated.render().splitlines() == [
        "models: 5 added, 2 kept, 2 left alone, 1 ignored",
        "added: ANTHROPIC/claude-sonnet-4, AZURE_OPENAI/gpt-4.1-mini, AZURE_OPENAI/dall-e-3, "
        "VERTEX/text-embedding-005, VERTEX/imagen-3.0-generate-002",
        "kept (already in the catalog, unchanged): AZURE_OPENAI/gpt-4o, VERTEX/gemini-2.5-pro",
        "left alone (in the catalog, not listed): OPENAI/o1, XAI/grok-3",
        "ignored: COCKPIT_MODELS_OPENAI: 'a b' (the id must not contain whitespace.)",
    ]
    assert "no provider list is set" in plan_seed([], []).render()


# --- against a database ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def fresh(settings: Settings) -> AsyncIterator[tuple[Settings, Database]]:
    """A migrated database of its own: the catalog starts empty."""
    name = f"cockpit_seed_{uuid.uuid4().hex[:8]}"
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    await create_database(settings.database_url, name)
    local = settings.model_copy(update={"database_url": url})
    db = Database.from_settings(local)
    try:
        await upgrade_to_head(url)
        yield local, db
    finally:
        await db.dispose()
        await drop_database(settings.database_url, name)


async def _catalog(db: Database) -> dict[str, CatalogModel]:
    async with db.platform() as s:
        rows = (await s.scalars(sa.select(CatalogModel))).all()
    return {f"{r.provider}/{r.provider_model_id}": r for r in rows}


async def _events(db: Database) -> list[PlatformAuditEvent]:
    async with db.platform() as s:
        return list((await s.scalars(sa.select(PlatformAuditEvent).order_by(PlatformAuditEvent.occurred_at))).all())


async def _seed(db: Database, env: dict[str, str]):  # type: ignore[no-untyped-def]
    async with db.platform() as s:
        return await seed_models(s, OP, env)


async def test_seed_fills_an_empty_catalog_once_and_keeps_admin_edits(fresh: tuple[Settings, Database]) -> None:
    _, db = fresh
    assert await _catalog(db) == {}
    first = await _seed(db, ENV)
    assert (len(first.added), first.kept, first.left_alone, first.ignored) == (7, [], [], [])
    catalog = await _catalog(db)
    assert sorted(catalog) == sorted(first.added)
    gpt = catalog["AZURE_OPENAI/gpt-4o"]
    assert (gpt.display_name, gpt.capabilities, gpt.enabled, gpt.deprecated) == ("gpt-4o", ["CHAT"], True, False)
    assert (gpt.input_usd_per_mtok, gpt.output_usd_per_mtok) == (0, 0)
    assert catalog["AZURE_OPENAI/dall-e-3"].capabilities == ["IMAGE"]
    assert catalog["VERTEX/text-embedding-005"].capabilities == ["EMBEDDING"]
    events = await _events(db)
    assert len(events) == 7 and {e.action for e in events} == {"models.model.created"}
    assert {(e.actor_type, e.actor_label, e.request_id) for e in events} == {("SYSTEM", "system", "test-seed")}
    assert {e.target_id for e in events} == {str(m.id) for m in catalog.values()}

    second = await _seed(db, ENV)  # idempotent: nothing added, nothing written
    assert (second.added, len(second.kept), second.left_alone) == ([], 7, [])
    assert len(await _events(db)) == 7

    async with db.platform() as s:  # an admin edits a seeded model; another model is added by hand
        await update_model(s, OP, gpt.id, ModelChanges(display_name="GPT-4o", input_usd_per_mtok=Decimal("2.5")))
    async with db.platform() as s:
        s.add(CatalogModel(provider="OPENAI", provider_model_id="o1", display_name="o1", capabilities=["CHAT"]))
    smaller = {"COCKPIT_MODELS_AZURE_OPENAI": "gpt-4o,gpt-5", "COCKPIT_MODELS_BEDROCK": ""}
    third = await _seed(db, smaller)
    assert third.added == ["AZURE_OPENAI/gpt-5"] and third.kept == ["AZURE_OPENAI/gpt-4o"]
    assert third.left_alone == sorted(
        [
            "ANTHROPIC/claude-sonnet-4",
            "AZURE_OPENAI/gpt-4.1-mini",
            "AZURE_OPENAI/dall-e-3",
            "OPENAI/o1",
            "VERTEX/gemini-2.5-pro",
            "VERTEX/text-embedding-005",
            "VERTEX/imagen-3.0-generate-002",
        ]
    )
    after = await _catalog(db)
    assert (after["AZURE_OPENAI/gpt-4o"].display_name, after["AZURE_OPENAI/gpt-4o"].input_usd_per_mtok) == (
        "GPT-4o",
        Decimal("2.5"),
    )
    assert len(after) == 9 and all(m.enabled for m in after.values())  # nothing disabled or removed


def _cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("COCKPIT_MODELS_")}
    full = base | {"DATABASE_URL": settings.database_url} | env
    return subprocess.run([COCKPIT, *args], capture_output=True, text=True, env=full, cwd=ROOT, timeout=120)


async def test_the_command_prints_its_report_and_is_idempotent(settings: Settings) -> None:
    name = f"cockpit_seedcli_{uuid.uuid4().hex[:8]}"
    url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    await create_database(settings.database_url, name)
    local = settings.model_copy(update={"database_url": url})
    try:
        await upgrade_to_head(url)
        refused = _cli(local, "seed-models")
        assert refused.returncode == 2 and "--from-env" in refused.stderr
        env = {"COCKPIT_MODELS_AZURE_OPENAI": "gpt-4o,gpt-4.1-mini", "COCKPIT_MODELS_XAI": "grok-4, ,grok 3"}
        first = _cli(local, "seed-models", "--from-env", **env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines() == [
            "models: 3 added, 0 kept, 0 left alone, 2 ignored",
            "added: AZURE_OPENAI/gpt-4o, AZURE_OPENAI/gpt-4.1-mini, XAI/grok-4",
            "ignored: COCKPIT_MODELS_XAI: ' ' (entry 2 is empty)",
            "ignored: COCKPIT_MODELS_XAI: 'grok 3' (the id must not contain whitespace.)",
        ]
        second = _cli(local, "seed-models", "--from-env", COCKPIT_MODELS_AZURE_OPENAI="gpt-4o")
        assert second.returncode == 0, second.stderr
        assert second.stdout.splitlines() == [
            "models: 0 added, 1 kept, 2 left alone, 0 ignored",
            "kept (already in the catalog, unchanged): AZURE_OPENAI/gpt-4o",
            "left alone (in the catalog, not listed): AZURE_OPENAI/gpt-4.1-mini, XAI/grok-4",
        ]
        nothing = _cli(local, "seed-models", "--from-env")
        assert nothing.returncode == 0 and "no provider list is set" in nothing.stdout
    finally:
        await drop_database(settings.database_url, name)

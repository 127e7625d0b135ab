"""Seeding the catalog from provider environment lists (`cockpit seed-models --from-env`).

`COCKPIT_MODELS_<PROVIDER>="id1,id2"`, one variable per provider. Idempotent and conservative:

- a listed model that is not in the catalog is added (display name = its id, capability guessed from
  the id, prices 0, enabled), with a platform audit event by the SYSTEM actor;
- a listed model already in the catalog is kept exactly as it is (admin edits are never overwritten);
- catalog models that no list names are left alone (never disabled or deleted by a seed).

Malformed entries (empty items, whitespace inside an id, ids longer than 200 characters, unknown
providers) are skipped and reported; they never stop the seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.domain.actor import Operation
from cockpit_graphql.domain.errors import UserInputError
from cockpit_graphql.domain.models.catalog import (
    Capability,
    ModelChanges,
    Provider,
    all_models,
    clean_provider_model_id,
    create_model,
)

ENV_PREFIX = "COCKPIT_MODELS_"
IMAGE_HINTS = ("dall-e", "dalle", "image", "imagen")
EMBEDDING_HINTS = ("embed",)


@dataclass(frozen=True, order=True)
class WantedModel:
    provider: Provider
    provider_model_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider.value, self.provider_model_id)

    @property
    def name(self) -> str:
        return f"{self.provider.value}/{self.provider_model_id}"

    @property
    def capabilities(self) -> tuple[Capability, ...]:
        return (guess_capability(self.provider_model_id),)


@dataclass(frozen=True)
class Ignored:
    """An entry of an environment list that was skipped, and why."""

    variable: str
    entry: str
    reason: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.entry!r} ({self.reason})" if self.entry else f"{self.variable}: {self.reason}"


@dataclass
class SeedReport:
    """What a seed did (or, from `plan_seed`, would do). Names read `PROVIDER/providerModelId`."""

    added: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    left_alone: list[str] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"models: {len(self.added)} added, {len(self.kept)} kept, {len(self.left_alone)} left alone, "
            f"{len(self.ignored)} ignored"
        ]
        if not self.variables:
            names = ", ".join(f"{ENV_PREFIX}{p.value}" for p in Provider)
            lines.append(f"no provider list is set (expected one or more of {names})")
        for title, names in (
            ("added", self.added),
            ("kept (already in the catalog, unchanged)", self.kept),
            ("left alone (in the catalog, not listed)", self.left_alone),
        ):
            if names:
                lines.append(f"{title}: {', '.join(names)}")
        lines.extend(f"ignored: {item}" for item in self.ignored)
        return "\n".join(lines)


def guess_capability(provider_model_id: str) -> Capability:
    """EMBEDDING when the id names an embedding model, IMAGE for an image model, else CHAT."""
    lower = provider_model_id.lower()
    if any(hint in lower for hint in EMBEDDING_HINTS):
        return Capability.EMBEDDING
    if any(hint in lower for hint in IMAGE_HINTS):
        return Capability.IMAGE
    return Capability.CHAT


def wanted_from_env(env: Mapping[str, str]) -> tuple[list[WantedModel], list[Ignored], list[str]]:
    """Parse every `COCKPIT_MODELS_<PROVIDER>` variable: the wanted models (in order, without
    duplicates), the entries skipped, and the variables read."""
    wanted: list[WantedModel] = []
    ignored: list[Ignored] = []
    variables: list[str] = []
    seen: set[tuple[str, str]] = set()
    providers = {p.value: p for p in Provider}
    for variable in sorted(k for k in env if k.upper().startswith(ENV_PREFIX)):
        suffix = variable[len(ENV_PREFIX) :].upper()
        provider = providers.get(suffix)
        if provider is None:
            ignored.append(Ignored(variable, "", f"unknown provider {suffix!r}; known: {', '.join(providers)}"))
            continue
        variables.append(variable)
        for position, item in enumerate(env[variable].split(","), start=1):
            ident = item.strip()
            if not ident:
                if env[variable].strip():  # an empty list is not worth a warning; a stray comma is
                    ignored.append(Ignored(variable, item, f"entry {position} is empty"))
                continue
            try:
                ident = clean_provider_model_id(ident)
            except UserInputError as exc:
                reason = exc.errors[0].message.replace("`providerModelId`", "the id")
                ignored.append(Ignored(variable, item.strip(), reason))
                continue
            model = WantedModel(provider, ident)
            if model.key in seen:
                ignored.append(Ignored(variable, ident, "listed twice"))
                continue
            seen.add(model.key)
            wanted.append(model)
    return wanted, ignored, variables


def plan_seed(wanted: Iterable[WantedModel], catalog: Iterable[tuple[str, str]]) -> SeedReport:
    """Compare the wanted models with the catalog's (provider, providerModelId) pairs."""
    existing = set(catalog)
    report = SeedReport()
    listed: set[tuple[str, str]] = set()
    for model in wanted:
        listed.add(model.key)
        (report.kept if model.key in existing else report.added).append(model.name)
    report.left_alone = [f"{p}/{m}" for p, m in sorted(existing - listed)]
    return report


async def seed_models(
    session: AsyncSession,
    op: Operation,
    env: Mapping[str, str],
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Apply the environment lists to the catalog in the caller's platform transaction;
    `progress(done, total)` after each model added."""
    wanted, ignored, variables = wanted_from_env(env)
    catalog = await all_models(session)
    report = plan_seed(wanted, [(m.provider, m.provider_model_id) for m in catalog])
    report.ignored, report.variables = ignored, variables
    to_add = set(report.added)
    done = 0
    for model in wanted:
        if model.name in to_add:
            done += 1
            await create_model(
                session,
                op,
                ModelChanges(
                    provider=model.provider,
                    provider_model_id=model.provider_model_id,
                    display_name=model.provider_model_id,
                    capabilities=model.capabilities,
                ),
            )
            if progress:
                progress(done, len(to_add))
    return report

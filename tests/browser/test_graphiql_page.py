"""The self-hosted GraphiQL page without a browser: the npm lock pins what strawberry's page pins, the
installed copy carries strawberry's SRI hashes, the app serves it under a strict CSP, and falls back to
strawberry's CDN page when the assets are not installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from graphql import get_introspection_query
from strawberry.http.ides import get_graphql_ide_html

from cockpit_graphql.app import create_app
from cockpit_graphql.ide import ASSETS_PATH, GraphiQLPage, content_security_policy
from cockpit_graphql.ide.assets import STATIC_DIR, sri, stock_assets, verify
from tests.support.live_server import ROOT, live_server
from tests.support.world import World

STOCK = get_graphql_ide_html("graphiql")
ASSETS = stock_assets(STOCK)
HTML = {"accept": "text/html"}


def test_the_npm_lock_pins_the_versions_of_strawberrys_page() -> None:
    assert {a.package for a in ASSETS} == {"react", "react-dom", "js-cookie", "graphiql", "@graphiql/plugin-explorer"}
    lock = json.loads((ROOT / "graphiql" / "package-lock.json").read_text())
    manifest = json.loads((ROOT / "graphiql" / "package.json").read_text())
    for asset in ASSETS:
        assert manifest["dependencies"][asset.package] == asset.version, asset.package
        entry = lock["packages"][f"node_modules/{asset.package}"]
        assert entry["version"] == asset.version and entry["integrity"].startswith("sha512-"), asset.package


def test_installed_assets_carry_strawberrys_sri_hashes() -> None:
    assert verify(STATIC_DIR, ASSETS) == [], "run `make graphiql-assets`"
    for asset in ASSETS:
        assert sri((STATIC_DIR / asset.local_path).read_bytes()) == asset.integrity


async def test_the_app_serves_the_self_hosted_page_under_a_strict_csp(client: httpx.AsyncClient) -> None:
    r = await client.get("/graphql", headers=HTML)
    assert r.status_code == 200
    page = r.text
    assert "unpkg.com" not in page and "jsdelivr" not in page and "https://" not in page.split("<body>")[0]
    csp = r.headers["content-security-policy"]
    assert csp == content_security_policy(page)
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'self'"
    assert directives["script-src"].startswith("'self' 'sha256-") and "unsafe" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for asset in ASSETS:
        url = f"{ASSETS_PATH}/{asset.local_path}"
        assert f'src="{url}"' in page or f'href="{url}"' in page
        assert f'integrity="{asset.integrity}"' in page  # the browser checks the hash of our copy too
        served = await client.get(url)
        assert served.status_code == 200, url
        assert sri(served.content) == asset.integrity
        kind = "text/css" if url.endswith(".css") else "text/javascript"
        assert served.headers["content-type"].startswith(kind)
        assert "immutable" in served.headers["cache-control"]


# Sent as written: httpx removes literal dot segments before sending (`/graphiql-assets/../x` leaves as
# `/x`, never reaching the assets mount), but leaves percent-encoded ones alone, and the server decodes
# them. Each one aims at a file that exists outside the assets folder (cockpit_graphql/settings.py,
# cockpit_graphql/static/…, pyproject.toml).
TRAVERSALS = [
    "%2e%2e/%2e%2e/settings.py",
    "%2E%2E/%2E%2E/settings.py",
    "..%2f..%2fsettings.py",
    "%2e%2e%2f%2e%2e%2fsettings.py",
    "a/%2e%2e/%2e%2e/%2e%2e/settings.py",
    "%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "..%2f..%2f..%2fpyproject.toml",
    "%2fetc%2fpasswd",
]


def _raw(base: str, raw_path: str) -> httpx.URL:
    url = httpx.URL(base + raw_path)
    assert url.raw_path == raw_path.encode(), url.raw_path  # nothing normalised away before sending
    return url


async def _assert_no_traversal(get: Any, base: str) -> None:
    outside = [(ROOT / "cockpit_graphql" / "settings.py").read_bytes(), (ROOT / "pyproject.toml").read_bytes()]
    for traversal in TRAVERSALS:
        r = await get(_raw(base, f"{ASSETS_PATH}/{traversal}"))
        assert r.status_code == 404, (traversal, r.status_code)
        assert not any(r.content and r.content in file for file in outside), traversal
        assert b"class Settings" not in r.content and b"[project]" not in r.content, traversal
    # the control: an encoded `..` that stays inside the folder is decoded and served, so the 404s above
    # are the mount's containment check, not a path that never reached it
    inside = f"{ASSETS_PATH}/x/%2e%2e/{ASSETS[0].local_path}"
    r = await get(_raw(base, inside))
    assert r.status_code == 200 and sri(r.content) == ASSETS[0].integrity, inside


async def test_encoded_dot_segments_serve_nothing_outside_the_assets_folder(
    client: httpx.AsyncClient, settings: Any
) -> None:
    """Before, `GET /graphiql-assets/../settings.py` was checked, which httpx sends as `/settings.py`:
    a 404 that proved nothing. In process (ASGI) and over TCP through uvicorn's own path decoding."""
    await _assert_no_traversal(client.get, "http://test")
    with live_server(settings) as base:
        async with httpx.AsyncClient() as tcp:
            await _assert_no_traversal(tcp.get, base)


async def test_without_assets_the_stock_cdn_page_is_served(settings: Any, db: Any, tmp_path: Path) -> None:
    fallback = GraphiQLPage.build(tmp_path)
    assert not fallback.self_hosted and fallback.html == STOCK and fallback.headers == {}
    assert fallback.routes() == [] and len(fallback.problems) == len(ASSETS)

    (tmp_path / ASSETS[0].local_path).parent.mkdir(parents=True)
    (tmp_path / ASSETS[0].local_path).write_text("tampered")
    assert any("does not match" in p for p in GraphiQLPage.build(tmp_path).problems)

    app = create_app(settings.model_copy(update={"graphiql_assets_dir": str(tmp_path)}), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        page = await c.get("/graphql", headers=HTML)
        asset = await c.get(f"{ASSETS_PATH}/{ASSETS[0].local_path}")
    assert page.status_code == 200 and "https://unpkg.com/graphiql@" in page.text
    assert "content-security-policy" not in page.headers and asset.status_code == 404


def test_graphiql_disabled_serves_no_page_and_no_assets(settings: Any) -> None:
    app = create_app(settings.model_copy(update={"graphiql_enabled": False}))
    assert not any(getattr(route, "path", "") == ASSETS_PATH for route in app.routes)


FEDERATION_SPEC = {  # defined by the Apollo Federation spec, not by us
    "_Any",
    "_Entity",
    "_Service",
    "_Service.sdl",
    "_FieldSet",
    "link__Purpose",
    "link__Import",
    "Query._entities",
    "Query._entities(representations)",
    "Query._service",
}


async def test_the_docs_pane_has_a_description_for_every_type_field_argument_and_enum_value(world: World) -> None:
    """What GraphiQL's docs pane shows is the introspection answer of the running app, not schema.graphql:
    ask it the way GraphiQL does and fail on any undocumented type, field, argument, input field or enum
    value (deprecated ones included)."""
    r = await world.gql(get_introspection_query(descriptions=True, input_value_deprecation=True))
    assert r.errors == []
    missing = []
    for gtype in r.data["__schema"]["types"]:
        name = gtype["name"]
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not gtype["description"]:
            missing.append(name)
        for field in (gtype["fields"] or []) + (gtype["inputFields"] or []):
            if not field["description"]:
                missing.append(f"{name}.{field['name']}")
            for arg in field.get("args") or []:
                if not arg["description"] and arg["name"] not in ("first", "after", "last", "before"):
                    missing.append(f"{name}.{field['name']}({arg['name']})")
        if name not in FEDERATION_SPEC:
            missing.extend(f"{name}.{v['name']}" for v in gtype["enumValues"] or [] if not v["description"])
    assert sorted(set(missing) - FEDERATION_SPEC) == [], "undocumented in the docs pane"

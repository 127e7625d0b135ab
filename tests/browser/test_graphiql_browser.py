"""GraphiQL in a real browser with no network but this server: Debian's chromium (driven by Playwright,
no browser download) opens the self-hosted page under its Content-Security-Policy, sets an Authorization
header in the headers pane, runs a query and reads the result; the docs pane shows our descriptions.
Screenshots and the chromium version (chromium-version.txt, also printed and in the junit XML as the
`chromium` property) go to test-artifacts/ (ignored by git). A missing chromium or missing assets fail the test:
`make test` installs both (`make chromium`, `make graphiql-assets`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, Route, async_playwright

from cockpit_graphql.ide import GraphiQLPage
from tests.support.live_server import ROOT, live_server
from tests.support.world import World

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
QUERY = "{ viewer { role user { email } account { name } } }"


@pytest.fixture(scope="module")
def chromium() -> Path:
    assert CHROMIUM.is_file(), "Debian's chromium is missing: run `make chromium` (apt-get install chromium)"
    return CHROMIUM


@pytest.fixture(scope="module")
def graphiql_url(settings: Any) -> Iterator[str]:
    with live_server(settings, graphiql_enabled=True) as base:
        yield f"{base}/graphql"


async def _editor_value(page: Page, selector: str) -> str:
    return str(await page.eval_on_selector(selector, "el => el.CodeMirror.getValue()"))


async def test_graphiql_runs_a_query_in_chromium_without_network(
    world: World, graphiql_url: str, chromium: Path, record_property: Any
) -> None:
    assert GraphiQLPage.build().self_hosted, "GraphiQL assets are missing: run `make graphiql-assets`"
    tenant = await world.tenant()
    token = world.admin(tenant)
    base = graphiql_url.removesuffix("/graphql")
    ARTIFACTS.mkdir(exist_ok=True)

    outside: list[str] = []
    problems: list[str] = []
    sent_authorization: list[str | None] = []

    async def only_this_server(route: Route) -> None:  # air-gapped: anything else is refused
        if route.request.url.startswith(base + "/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        # which browser passed (or failed): in the output (-rP, or with a failure), the junit XML and a file
        print(f"chromium {browser.version} ({chromium})")
        record_property("chromium", browser.version)
        (ARTIFACTS / "chromium-version.txt").write_text(f"{browser.version}\n")
        try:
            context = await browser.new_context(viewport={"width": 1440, "height": 900})
            await context.route("**/*", only_this_server)
            page = await context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on(
                "request",
                lambda r: (
                    sent_authorization.append(r.headers.get("authorization"))
                    if r.method == "POST" and r.url == graphiql_url
                    else None
                ),
            )

            response = await page.goto(graphiql_url)
            assert response is not None and response.status == 200
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src 'self' 'sha256-" in csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp

            await page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
            assert "Loading..." not in await page.inner_text("#graphiql")

            # the headers pane: open it, replace its content as a person pasting would
            await page.locator(".graphiql-editor-tools button", has_text="Headers").click()
            headers_editor = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
            await page.click(headers_editor)
            await page.keyboard.press("Control+A")
            await page.keyboard.insert_text(json.dumps({"Authorization": f"Bearer {token}"}))
            assert json.loads(await _editor_value(page, headers_editor)) == {"Authorization": f"Bearer {token}"}

            await page.click(".graphiql-query-editor .CodeMirror")
            await page.keyboard.press("Control+A")
            await page.keyboard.insert_text(QUERY)
            await page.click(".graphiql-execute-button")

            result_viewer = ".graphiql-response .CodeMirror"
            await page.wait_for_function(
                "s => (document.querySelector(s)?.CodeMirror.getValue() || '').includes('viewer')",
                arg=result_viewer,
                timeout=30_000,
            )
            result = json.loads(await _editor_value(page, result_viewer))
            await page.screenshot(path=str(ARTIFACTS / "graphiql.png"))
            assert result["data"]["viewer"] == {
                "role": "ACCOUNT_ADMIN",
                "user": {"email": tenant.admin_email},
                "account": {"name": f"Tenant {tenant.external_org_id.removeprefix('org-')}"},
            }, result
            assert sent_authorization and sent_authorization[-1] == f"Bearer {token}"

            # the docs pane shows the schema's descriptions
            await page.click("[aria-label='Show Documentation Explorer']")
            await page.locator(".graphiql-doc-explorer a", has_text="Query").first.click()
            await page.wait_for_selector("text=Fetch any object by its global id", timeout=10_000)
            await page.screenshot(path=str(ARTIFACTS / "graphiql-docs.png"))
        finally:
            await browser.close()

    assert outside == [], f"the page reached beyond this server: {outside}"
    assert problems == [], f"console errors (a refused asset or a CSP violation shows here): {problems}"

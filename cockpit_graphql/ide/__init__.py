"""GraphiQL, self-hosted when its assets are installed, else strawberry's stock page (CDN).

strawberry's page loads React, GraphiQL and the explorer plugin from a CDN, pinned by SRI hashes. The
same builds are installed from npm by `make graphiql-assets` into `cockpit_graphql/static/graphiql/`
(ignored by git). When every file is there with the hash strawberry expects, `/graphql` serves a copy of
the stock page whose asset URLs point at `/graphiql-assets/...` (integrity attributes kept, so the
browser checks them too) under a strict Content-Security-Policy; otherwise it serves the stock page.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

from cockpit_graphql.ide.assets import STATIC_DIR, Asset, stock_assets, verify

ASSETS_PATH = "/graphiql-assets"
log = logging.getLogger("cockpit_graphql.ide")

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def content_security_policy(html: str) -> str:
    """Only this origin, plus the page's own inline script and style by their hashes. GraphiQL's fonts
    are data: URIs inside its CSS; the favicon is a data: SVG."""
    scripts = " ".join(_csp_hash(s) for s in _INLINE_SCRIPT.findall(html))
    styles = " ".join(_csp_hash(s) for s in _INLINE_STYLE.findall(html))
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {scripts}".strip(),
            f"style-src 'self' {styles}".strip(),
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def self_hosted_html(stock: str, assets: list[Asset], prefix: str = ASSETS_PATH) -> str:
    html = stock
    for asset in assets:
        html = html.replace(asset.url, f"{prefix}/{asset.local_path}")
    return html


class _ImmutableStaticFiles(StaticFiles):
    """The paths carry the package version: a file never changes under its URL."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        response.headers["x-content-type-options"] = "nosniff"
        return response


@dataclass
class GraphiQLPage:
    """What `/graphql` answers to a browser, and the routes that serve its assets."""

    html: str
    self_hosted: bool
    assets_dir: Path | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, assets_dir: Path | str | None = None) -> GraphiQLPage:
        stock = get_graphql_ide_html("graphiql")
        directory = Path(assets_dir) if assets_dir else STATIC_DIR
        assets = stock_assets(stock)
        problems = verify(directory, assets)
        if problems:
            log.warning(
                "GraphiQL assets not installed in %s (%s): serving the CDN page; run `make graphiql-assets` "
                "for a page that works without network",
                directory,
                problems[0],
            )
            return cls(stock, self_hosted=False, problems=problems)
        return cls(self_hosted_html(stock, assets), self_hosted=True, assets_dir=directory)

    @property
    def headers(self) -> dict[str, str]:
        if not self.self_hosted:
            return {}
        return {
            "content-security-policy": content_security_policy(self.html),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
        }

    def response(self) -> HTMLResponse:
        return HTMLResponse(self.html, headers=self.headers)

    def routes(self) -> list[BaseRoute]:
        if not self.self_hosted or self.assets_dir is None:
            return []
        return [Mount(ASSETS_PATH, app=_ImmutableStaticFiles(directory=self.assets_dir), name="graphiql-assets")]


__all__ = ["ASSETS_PATH", "GraphiQLPage", "content_security_policy", "self_hosted_html"]

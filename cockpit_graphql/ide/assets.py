"""The assets of strawberry's GraphiQL page: which files, their SRI hashes, installing and checking them.

The list is read from strawberry's own page (every `<script src>` / `<link href>` with an `integrity`
attribute), so a strawberry upgrade that moves to new versions shows up as a failed check, never as a
page silently serving other builds.

    python -m cockpit_graphql.ide install graphiql/node_modules   # copy + verify (make graphiql-assets)
    python -m cockpit_graphql.ide check                           # verify what is installed
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parents[1] / "static" / "graphiql"

_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.S)
_ATTR = re.compile(r'\b(src|href|integrity)="([^"]*)"')
# unpkg (strawberry today) and jsdelivr's npm mirror both name files as <package>@<version>/<path>
_CDN = re.compile(r"^https://(?:unpkg\.com|cdn\.jsdelivr\.net/npm)/((?:@[^/@]+/)?[^/@]+)@([^/]+)/(.+)$")


@dataclass(frozen=True)
class Asset:
    url: str
    integrity: str  # "sha384-<base64>"
    package: str
    version: str
    path: str  # inside the package

    @property
    def local_path(self) -> str:
        return f"{self.package}@{self.version}/{self.path}"


def stock_assets(html: str) -> list[Asset]:
    assets = []
    for tag in _TAG.findall(html):
        attrs = dict(_ATTR.findall(tag))
        url = attrs.get("src") or attrs.get("href")
        if not url or "integrity" not in attrs:
            continue
        match = _CDN.match(url)
        if match is None:
            raise ValueError(f"GraphiQL page loads {url}, which is not an npm package on a known CDN")
        assets.append(Asset(url, attrs["integrity"], *match.groups()))
    if not assets:
        raise ValueError("no asset with an integrity hash found in strawberry's GraphiQL page")
    return assets


def sri(data: bytes, algorithm: str = "sha384") -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def _matches(path: Path, integrity: str) -> bool:
    algorithm = integrity.split("-", 1)[0]
    return sri(path.read_bytes(), algorithm) == integrity


def verify(directory: Path, assets: list[Asset]) -> list[str]:
    """Problems with the installed copy; empty when every file is there with strawberry's hash."""
    problems = []
    for asset in assets:
        path = directory / asset.local_path
        if not path.is_file():
            problems.append(f"missing {asset.local_path}")
        elif not _matches(path, asset.integrity):
            problems.append(f"{asset.local_path} does not match {asset.integrity}")
    return problems


def install(node_modules: Path, directory: Path, assets: list[Asset]) -> None:
    """Copy each file from an npm install into `directory`, refusing other versions or other bytes."""
    for asset in assets:
        package_dir = node_modules / asset.package
        manifest = package_dir / "package.json"
        if not manifest.is_file():
            raise SystemExit(f"{asset.package} is not installed in {node_modules} (npm ci in graphiql/)")
        version = json.loads(manifest.read_text())["version"]
        if version != asset.version:
            raise SystemExit(
                f"{asset.package} is {version} in {node_modules}, strawberry's page wants {asset.version}: "
                "update graphiql/package.json and its lock file"
            )
        source = package_dir / asset.path
        if not _matches(source, asset.integrity):
            raise SystemExit(f"{source} does not match strawberry's {asset.integrity}")
        target = directory / asset.local_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    problems = verify(directory, assets)
    if problems:
        raise SystemExit("; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    from strawberry.http.ides import get_graphql_ide_html

    args = sys.argv[1:] if argv is None else argv
    assets = stock_assets(get_graphql_ide_html("graphiql"))
    if args[:1] == ["install"] and len(args) == 2:
        install(Path(args[1]), STATIC_DIR, assets)
        print(f"GraphiQL assets: {len(assets)} files in {STATIC_DIR}, sha384 as in strawberry's page")
        return 0
    if args == ["check"]:
        problems = verify(STATIC_DIR, assets)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    if args == ["list"]:
        for asset in assets:
            print(asset.package, asset.version, asset.path, asset.integrity)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())

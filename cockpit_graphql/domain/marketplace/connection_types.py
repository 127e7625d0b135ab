"""Connection types and the validation of their (non-secret) config documents: every key known,
every value checked, every problem reported at once at ("config", key). A config never holds a
secret: keys named like one are refused (the secret goes in the write-only `secret`).

Extensible: a new type is one ConnectionType member plus one entry in TYPES."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.validation import parse_url


class ConnectionType(StrEnum):
    SLACK = "SLACK"
    JIRA = "JIRA"
    GITHUB = "GITHUB"
    CONFLUENCE = "CONFLUENCE"
    SHAREPOINT = "SHAREPOINT"
    MCP_SERVER = "MCP_SERVER"
    HTTP_API = "HTTP_API"


class McpTransport(StrEnum):
    SSE = "SSE"
    STREAMABLE_HTTP = "STREAMABLE_HTTP"


MAX_URL = 2000
MAX_TEXT = 200
MAX_LIST = 100
SECRET_LIKE = re.compile(r"token|secret|passw|apikey|privatekey|credential", re.IGNORECASE)
JIRA_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")
GITHUB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
SLACK_CHANNEL = re.compile(r"^#?[a-z0-9][a-z0-9._-]{0,79}$")

Problems = list[tuple[str, str]]
"""(key, message) pairs. Messages never repeat a value: it might be a secret pasted in the wrong place."""


class Config:
    """Reads one raw config document and collects problems key by key."""

    def __init__(self, raw: dict[str, Any], problems: Problems) -> None:
        self.raw = raw
        self.problems = problems
        self.out: dict[str, Any] = {}

    def _missing(self, key: str, required: bool) -> bool:
        if self.raw.get(key) is None:
            if required:
                self.problems.append((key, f"`{key}` is required."))
            return True
        return False

    def text(self, key: str, *, required: bool = False, pattern: re.Pattern[str] | None = None, what: str = "") -> None:
        if self._missing(key, required):
            return
        value = self.raw[key]
        clean = value.strip() if isinstance(value, str) else ""
        if not clean or len(clean) > MAX_TEXT or (pattern is not None and not pattern.match(clean)):
            self.problems.append((key, f"`{key}` is {what or f'a text of 1 to {MAX_TEXT} characters'}."))
            return
        self.out[key] = clean

    def https_url(self, key: str, *, required: bool = False) -> None:
        if self._missing(key, required):
            return
        value = self.raw[key]
        parsed = parse_url(value.strip()) if isinstance(value, str) else None
        if (
            parsed is None
            or parsed.scheme != "https"
            or not parsed.hostname
            or parsed.username is not None
            or parsed.password is not None
            or len(value) > MAX_URL
        ):
            self.problems.append(
                (key, f"`{key}` is an https URL without credentials (at most {MAX_URL:,} characters).")
            )
            return
        self.out[key] = value.strip().rstrip("/") if parsed.path in ("", "/") else value.strip()

    def text_list(self, key: str, *, pattern: re.Pattern[str], what: str) -> None:
        if self._missing(key, False):
            return
        value = self.raw[key]
        if (
            not isinstance(value, list)
            or len(value) > MAX_LIST
            or not all(isinstance(v, str) and pattern.match(v.strip()) for v in value)
        ):
            self.problems.append((key, f"`{key}` is a list of at most {MAX_LIST} {what}."))
            return
        self.out[key] = sorted({v.strip() for v in value})

    def choice(self, key: str, allowed: type[StrEnum], default: StrEnum) -> None:
        value = self.raw.get(key, default.value)
        names = sorted(m.value for m in allowed)
        if not isinstance(value, str) or value not in names:
            self.problems.append((key, f"`{key}` is one of {', '.join(names)}."))
            return
        self.out[key] = value

    def uuid_text(self, key: str, *, required: bool = False) -> None:
        if self._missing(key, required):
            return
        value = self.raw[key]
        try:
            self.out[key] = str(uuid.UUID(value.strip()))
        except (AttributeError, ValueError):
            self.problems.append((key, f"`{key}` is a directory (tenant) id in UUID form."))


def _slack(c: Config) -> None:
    c.text("workspace", required=True)
    c.text("defaultChannel", pattern=SLACK_CHANNEL, what="a channel name such as #general")


def _jira(c: Config) -> None:
    c.https_url("baseUrl", required=True)
    c.text_list("projectKeys", pattern=JIRA_PROJECT_KEY, what="project keys such as OPS")


def _github(c: Config) -> None:
    c.text("organization", required=True, pattern=GITHUB_NAME, what="a GitHub organization name")
    c.text_list("repositories", pattern=GITHUB_NAME, what="repository names")


def _confluence(c: Config) -> None:
    c.https_url("baseUrl", required=True)
    c.text_list("spaceKeys", pattern=re.compile(r"^[A-Za-z0-9~_]{1,255}$"), what="space keys")


def _sharepoint(c: Config) -> None:
    c.uuid_text("tenantId", required=True)
    c.https_url("siteUrl", required=True)


def _mcp(c: Config) -> None:
    c.https_url("url", required=True)
    c.choice("transport", McpTransport, McpTransport.STREAMABLE_HTTP)


def _http_api(c: Config) -> None:
    c.https_url("baseUrl", required=True)
    c.text("authHeader", pattern=HEADER_NAME, what="an HTTP header name such as Authorization")


@dataclass(frozen=True)
class ConnectionTypeSpec:
    keys: frozenset[str]
    validate: Callable[[Config], None]
    description: str


TYPES: dict[ConnectionType, ConnectionTypeSpec] = {
    ConnectionType.SLACK: ConnectionTypeSpec(
        frozenset({"workspace", "defaultChannel"}), _slack, "Slack: `workspace`, optional `defaultChannel`."
    ),
    ConnectionType.JIRA: ConnectionTypeSpec(
        frozenset({"baseUrl", "projectKeys"}), _jira, "Jira: https `baseUrl`, optional `projectKeys`."
    ),
    ConnectionType.GITHUB: ConnectionTypeSpec(
        frozenset({"organization", "repositories"}), _github, "GitHub: `organization`, optional `repositories`."
    ),
    ConnectionType.CONFLUENCE: ConnectionTypeSpec(
        frozenset({"baseUrl", "spaceKeys"}), _confluence, "Confluence: https `baseUrl`, optional `spaceKeys`."
    ),
    ConnectionType.SHAREPOINT: ConnectionTypeSpec(
        frozenset({"tenantId", "siteUrl"}), _sharepoint, "SharePoint: directory `tenantId`, https `siteUrl`."
    ),
    ConnectionType.MCP_SERVER: ConnectionTypeSpec(
        frozenset({"url", "transport"}), _mcp, "MCP server: https `url`, `transport` SSE or STREAMABLE_HTTP."
    ),
    ConnectionType.HTTP_API: ConnectionTypeSpec(
        frozenset({"baseUrl", "authHeader"}), _http_api, "HTTP API: https `baseUrl`, optional `authHeader` name."
    ),
}


def clean_config(kind: ConnectionType, config: Any, field: str = "config") -> dict[str, Any]:
    """The normalised config of a connection of `kind`, or every problem at once as userErrors."""
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` is a JSON object.")
    spec = TYPES[kind]
    problems: Problems = []
    for key in sorted(set(config) - spec.keys):
        if SECRET_LIKE.search(key.replace("_", "").replace("-", "")):
            problems.append((key, f"`{key}` looks like a secret: a config holds no secrets, set `secret` instead."))
        else:
            problems.append((key, f"Unknown key `{key}` for {kind.value} ({', '.join(sorted(spec.keys))})."))
    reader = Config(config, problems)
    spec.validate(reader)
    if problems:
        raise UserInputError(*(UserErrorItem((field, key), UserErrorCode.INVALID, m) for key, m in problems))
    return reader.out

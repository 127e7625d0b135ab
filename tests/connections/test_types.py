"""Connection config validation: per type, every problem at once at ("config", key), no secrets."""

from __future__ import annotations

from typing import Any

import pytest

from cockpit_graphql.domain.errors import UserInputError
from cockpit_graphql.domain.marketplace.connection_types import TYPES, ConnectionType, clean_config

TENANT = "0b5c8c1e-6a43-4b7e-9d7e-2b1e3c4d5e6f"
VALID: dict[ConnectionType, tuple[dict[str, Any], dict[str, Any]]] = {
    ConnectionType.SLACK: ({"workspace": " acme "}, {"workspace": "acme"}),
    ConnectionType.JIRA: (
        {"baseUrl": "https://acme.atlassian.net/", "projectKeys": ["OPS", "DEV", "OPS"]},
        {"baseUrl": "https://acme.atlassian.net", "projectKeys": ["DEV", "OPS"]},
    ),
    ConnectionType.GITHUB: (
        {"organization": "acme", "repositories": ["api", "web"]},
        {"organization": "acme", "repositories": ["api", "web"]},
    ),
    ConnectionType.CONFLUENCE: (
        {"baseUrl": "https://wiki.acme.example/wiki"},
        {"baseUrl": "https://wiki.acme.example/wiki"},
    ),
    ConnectionType.SHAREPOINT: (
        {"tenantId": TENANT.upper(), "siteUrl": "https://acme.sharepoint.com/sites/ops"},
        {"tenantId": TENANT, "siteUrl": "https://acme.sharepoint.com/sites/ops"},
    ),
    ConnectionType.MCP_SERVER: (
        {"url": "https://mcp.acme.example/sse", "transport": "SSE"},
        {"url": "https://mcp.acme.example/sse", "transport": "SSE"},
    ),
    ConnectionType.HTTP_API: (
        {"baseUrl": "https://api.acme.example/v1", "authHeader": "X-Api-Key"},
        {"baseUrl": "https://api.acme.example/v1", "authHeader": "X-Api-Key"},
    ),
}


def _problems(kind: ConnectionType, config: Any) -> list[tuple[tuple[str, ...], str]]:
    with pytest.raises(UserInputError) as caught:
        clean_config(kind, config)
    return [(e.field, e.code.value) for e in caught.value.errors]


def test_every_type_is_registered_and_normalises_a_valid_config() -> None:
    assert set(TYPES) == set(ConnectionType) == set(VALID)
    for kind, (raw, clean) in VALID.items():
        assert clean_config(kind, raw) == clean, kind


def test_every_problem_is_reported_at_its_key() -> None:
    config = {"url": "http://mcp.example", "transport": "WEBSOCKET", "accessToken": "t", "api_key": "k", "x": 1}
    assert _problems(ConnectionType.MCP_SERVER, config) == [
        (("config", "accessToken"), "INVALID"),
        (("config", "api_key"), "INVALID"),
        (("config", "x"), "INVALID"),
        (("config", "url"), "INVALID"),
        (("config", "transport"), "INVALID"),
    ]
    assert _problems(ConnectionType.SHAREPOINT, {"tenantId": "nope"}) == [
        (("config", "tenantId"), "INVALID"),
        (("config", "siteUrl"), "INVALID"),
    ]
    assert _problems(ConnectionType.HTTP_API, {"baseUrl": "https://user:pw@api.example", "authHeader": "a b"}) == [
        (("config", "baseUrl"), "INVALID"),
        (("config", "authHeader"), "INVALID"),
    ]
    assert _problems(ConnectionType.SLACK, ["not", "an", "object"]) == [(("config",), "INVALID")]


def test_secret_like_keys_are_refused_and_values_never_echoed() -> None:
    for key in ("token", "clientSecret", "password", "apiKey", "private_key", "credentials"):
        with pytest.raises(UserInputError) as caught:
            clean_config(ConnectionType.GITHUB, {"organization": "acme", key: "s3cr3t-value"})
        (error,) = caught.value.errors
        assert error.field == ("config", key) and "secret" in error.message
        assert "s3cr3t-value" not in error.message


MALFORMED_URLS = ["https://[oops/x", "https://host:99999/x", "https://[::1", "https://host:port/x"]  # urllib raises


@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_a_url_urllib_cannot_split_is_invalid_not_a_crash(url: str) -> None:
    assert _problems(ConnectionType.MCP_SERVER, {"url": url}) == [(("config", "url"), "INVALID")]
    assert _problems(ConnectionType.HTTP_API, {"baseUrl": url}) == [(("config", "baseUrl"), "INVALID")]

"""Signing keys of the identity provider: a JWKS URL (cached, refreshed on rotation) or a file."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from cockpit_graphql.domain.errors import Unauthenticated

ALG_KEY_TYPES = {"RS256": "RSA", "ES256": "EC"}


def parse_jwks(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        kid = entry.get("kid")
        if not kid or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[kid] = jwt.PyJWK(entry)
        except jwt.PyJWKError:
            continue  # an unsupported key is skipped, never fatal
    return keys


class KeySource(Protocol):
    async def get(self, kid: str) -> jwt.PyJWK | None: ...


class FileKeySource:
    """A JWKS file; re-read when it changes on disk (rotation by replacing the file)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._mtime = -1.0
        self._keys: dict[str, jwt.PyJWK] = {}

    async def get(self, kid: str) -> jwt.PyJWK | None:
        mtime = self.path.stat().st_mtime
        if mtime != self._mtime:
            self._keys = parse_jwks(json.loads(self.path.read_text()))
            self._mtime = mtime
        return self._keys.get(kid)


class UrlKeySource:
    """A JWKS URL. Keys are cached for `cache_seconds`; an unknown kid triggers one refresh (at most
    every `min_refresh_seconds`), so a rotated key is picked up without hammering the provider."""

    def __init__(self, url: str, cache_seconds: int = 300, min_refresh_seconds: int = 10) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _refresh(self) -> None:
        self._attempted_at = time.monotonic()
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self.url)
            response.raise_for_status()
            self._keys = parse_jwks(response.json())
        self._fetched_at = time.monotonic()
        self.fetches += 1

    async def get(self, kid: str) -> jwt.PyJWK | None:
        age = time.monotonic() - self._fetched_at
        if kid in self._keys and age < self.cache_seconds:
            return self._keys[kid]
        async with self._lock:
            now = time.monotonic()
            age = now - self._fetched_at
            since_attempt = now - self._attempted_at if self._attempted_at is not None else None
            throttled = since_attempt is not None and since_attempt < self.min_refresh_seconds
            stale = age >= self.cache_seconds
            if not throttled and (stale or kid not in self._keys):
                try:
                    await self._refresh()
                except (httpx.HTTPError, ValueError) as exc:
                    if not self._keys:
                        raise Unauthenticated("The identity provider's keys are unavailable.") from exc
            return self._keys.get(kid)


class NoKeySource:
    async def get(self, kid: str) -> jwt.PyJWK | None:
        return None

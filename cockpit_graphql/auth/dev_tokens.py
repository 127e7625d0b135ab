"""Dev tokens (HS256, signed with DEV_JWT_SECRET): only where a dev signing key is configured."""

from __future__ import annotations

import time
from typing import Any

import jwt

from cockpit_graphql.settings import Settings

SUPER_ADMIN_SUBJECT = "dev-super-admin"


def mint_dev_token(
    settings: Settings,
    *,
    subject: str,
    organization: str | None = None,
    email: str | None = None,
    ttl_seconds: int = 12 * 3600,
    extra: dict[str, Any] | None = None,
) -> str:
    if not settings.dev_jwt_secret:
        raise RuntimeError("DEV_JWT_SECRET is not set: dev tokens are disabled in this environment.")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.dev_issuer,
        "sub": subject,
        "aud": settings.oidc_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    if organization:
        claims[settings.oidc_org_claim] = organization
    if email:
        claims[settings.oidc_email_claim] = email
        claims[settings.oidc_email_verified_claim] = True
    claims.update(extra or {})
    return jwt.encode(claims, settings.dev_jwt_secret, algorithm="HS256")

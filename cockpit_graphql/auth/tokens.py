"""Bearer token verification: signature, algorithm, expiry, audience; HS256 only in development."""

from __future__ import annotations

from typing import Any

import jwt

from cockpit_graphql.auth.jwks import ALG_KEY_TYPES, FileKeySource, KeySource, NoKeySource, UrlKeySource
from cockpit_graphql.domain.errors import Unauthenticated
from cockpit_graphql.domain.identity.service import VerifiedClaims
from cockpit_graphql.domain.validation import storable_text
from cockpit_graphql.settings import Settings

REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "aud"]
UNSTORABLE_CLAIM = "The token's claims contain text that cannot be stored (U+0000 or an unpaired surrogate)."


def key_source_from_settings(settings: Settings) -> KeySource:
    if settings.oidc_jwks_url:
        return UrlKeySource(
            settings.oidc_jwks_url, settings.oidc_jwks_cache_seconds, settings.oidc_jwks_min_refresh_seconds
        )
    if settings.oidc_jwks_file:
        return FileKeySource(settings.oidc_jwks_file)
    return NoKeySource()


class TokenVerifier:
    def __init__(self, settings: Settings, keys: KeySource) -> None:
        self.settings = settings
        self.keys = keys

    async def verify(self, token: str) -> VerifiedClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The bearer token is malformed.") from exc
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise Unauthenticated("The token's algorithm is malformed.")
        expected_issuer: str | None = None
        key: Any
        if alg == "HS256":
            if not self.settings.dev_jwt_secret:
                raise Unauthenticated("HS256 tokens are not accepted here.")
            key = self.settings.dev_jwt_secret
            expected_issuer = self.settings.dev_issuer
        elif alg in ALG_KEY_TYPES:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthenticated("The token names no signing key (kid).")
            jwk = await self.keys.get(kid)
            if jwk is None:
                raise Unauthenticated("The token's signing key is unknown.")
            if jwk.key_type != ALG_KEY_TYPES[alg]:
                raise Unauthenticated("The token's algorithm does not match its key.")
            key = jwk.key
        else:
            raise Unauthenticated(f"Algorithm {alg!r} is not accepted.")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.oidc_audience,
                issuer=expected_issuer,
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("The token has expired.") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthenticated("The token is not valid yet.") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("The token was issued for another audience.") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("The token's issuer is not accepted.") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("The token is invalid.") from exc
        if alg != "HS256" and payload["iss"] == self.settings.dev_issuer:
            raise Unauthenticated("The token's issuer is not accepted.")
        return self._claims(payload)

    def _claims(self, payload: dict[str, Any]) -> VerifiedClaims:
        org = payload.get(self.settings.oidc_org_claim)
        email = payload.get(self.settings.oidc_email_claim)
        verified = payload.get(self.settings.oidc_email_verified_claim)
        claims = VerifiedClaims(
            issuer=str(payload["iss"]),
            subject=str(payload["sub"]),
            organization=str(org) if isinstance(org, str | int) and str(org) else None,
            email=email if isinstance(email, str) else None,
            email_verified=verified is True or verified == "true",
            name=payload.get("name") if isinstance(payload.get("name"), str) else None,
        )
        # These claims are looked up and stored at sign-in: U+0000 or a lone surrogate there was an HTTP 500.
        texts = (claims.issuer, claims.subject, claims.organization, claims.email, claims.name)
        if not all(storable_text(text) for text in texts if text is not None):
            raise Unauthenticated(UNSTORABLE_CLAIM)
        return claims

"""Starlette authentication backend: bearer JWT -> verified claims -> Principal (roles from the DB)."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import DBAPIError
from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from cockpit_graphql.auth.principal import Principal
from cockpit_graphql.auth.tokens import TokenVerifier
from cockpit_graphql.db.engine import Database
from cockpit_graphql.db.errors import is_timeout
from cockpit_graphql.domain.errors import CockpitError, ErrorCode
from cockpit_graphql.domain.identity.service import resolve_identity
from cockpit_graphql.middleware import ERROR_CODE_STATE
from cockpit_graphql.settings import Settings

STATUS_BY_CODE = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.ACCOUNT_MISMATCH: 403,
    ErrorCode.ACCOUNT_SUSPENDED: 403,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.TIMEOUT: 503,
}


class AuthenticatedUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.identity.label


class TokenAuthError(AuthenticationError):
    def __init__(self, error: CockpitError) -> None:
        super().__init__(error.message)
        self.error = error


class JWTBackend(AuthenticationBackend):
    def __init__(self, settings: Settings, verifier: TokenVerifier, db: Database) -> None:
        self.settings = settings
        self.verifier = verifier
        self.db = db

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenAuthError(CockpitError("Use `Authorization: Bearer <token>`.", ErrorCode.UNAUTHENTICATED))
        request_id = conn.scope.get("state", {}).get("request_id")
        try:
            claims = await self.verifier.verify(token.strip())
            identity = await resolve_identity(self.db, claims, self.settings.platform_issuers, request_id)
        except CockpitError as exc:
            raise TokenAuthError(exc) from exc
        except DBAPIError as exc:  # signing in waits on the identity's lock: the statement timeout applies there too
            if not is_timeout(exc):
                raise
            message = "Signing in took longer than the database allows; nothing was changed: retry the request."
            raise TokenAuthError(CockpitError(message, ErrorCode.TIMEOUT)) from exc
        principal = Principal(identity)
        return AuthCredentials([identity.role.value]), AuthenticatedUser(principal)


def auth_error_response(conn: HTTPConnection, exc: Exception) -> Response:
    error = exc.error if isinstance(exc, TokenAuthError) else CockpitError(str(exc), ErrorCode.UNAUTHENTICATED)
    state = conn.scope.setdefault("state", {})
    state[ERROR_CODE_STATE] = error.code.value  # the request metrics' outcome (403 alone is ambiguous)
    request_id = state.get("request_id") or str(uuid.uuid4())
    body = {
        "data": None,
        "errors": [{"message": error.message, "extensions": {"code": error.code.value, "requestId": request_id}}],
    }
    # The request-context middleware adds the x-request-id header to every response.
    return JSONResponse(body, status_code=STATUS_BY_CODE.get(error.code, 401))

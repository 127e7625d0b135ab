"""Real signing keys for tests: RSA and EC key pairs, a JWKS file, and token minting."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "cockpit-api"
ORG_CLAIM = "urn:zitadel:iam:user:resourceowner:id"


@dataclass
class KeyRing:
    path: Path
    rsa_key: Any
    ec_key: Any
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, path: Path) -> KeyRing:
        ring = cls(
            path,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            ec.generate_private_key(ec.SECP256R1()),
        )
        ring.write()
        return ring

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        keys = [
            rsa_jwk | {"kid": "rsa-1", "use": "sig", "alg": "RS256"},
            ec_jwk | {"kid": "ec-1", "use": "sig", "alg": "ES256"},
        ]
        for kid, key in self.extra.items():
            keys.append(json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def write(self) -> None:
        self.path.write_text(json.dumps(self.jwks()))

    def token(
        self,
        *,
        iss: str,
        sub: str,
        org: str | None = None,
        email: str | None = None,
        verified: bool = True,
        alg: str = "RS256",
        kid: str | None = None,
        aud: str = AUDIENCE,
        exp_in: int = 600,
        nbf_in: int = 0,
        extra: dict[str, Any] | None = None,
        key: Any = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": iss,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "nbf": now + nbf_in,
            "exp": now + exp_in,
        }
        if org is not None:
            claims[ORG_CLAIM] = org
        if email is not None:
            claims["email"] = email
            claims["email_verified"] = verified
        claims.update(extra or {})
        if key is None:
            key = self.rsa_key if alg == "RS256" else self.ec_key
        kid = kid or ("rsa-1" if alg == "RS256" else "ec-1")
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

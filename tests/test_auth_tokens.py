"""Bearer token verification against the real app and PostgreSQL: every JWT attack is refused with
HTTP 401 UNAUTHENTICATED and no data; signing keys rotate through the JWKS file and the JWKS URL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from cockpit_graphql.auth.dev_tokens import mint_dev_token
from cockpit_graphql.auth.jwks import UrlKeySource
from cockpit_graphql.domain.errors import Unauthenticated
from tests.support.jwks_server import JwksServer
from tests.support.keys import AUDIENCE, ORG_CLAIM, KeyRing
from tests.support.world import Tenant, World

VIEWER = "{ viewer { role issuer subject user { email } } }"


# --- token crafting -----------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segment(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims_for(tenant: Tenant, email: str, **overrides: Any) -> dict[str, Any]:
    """The claims World.token() would put in a token for `email` of `tenant` (same subject scheme)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tenant.issuer,
        "sub": f"sub|{email}",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        ORG_CLAIM: tenant.external_org_id,
        "email": email,
        "email_verified": True,
    }
    claims.update(overrides)
    return claims


def hs256_by_hand(claims: dict[str, Any], secret: bytes, header: dict[str, Any] | None = None) -> str:
    """HS256 computed with hmac/hashlib, so any secret (even a PEM public key) can be used."""
    signing_input = f"{segment(header or {'alg': 'HS256', 'typ': 'JWT'})}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def sign(claims: dict[str, Any], key: Any, *, kid: str, alg: str = "RS256", **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid, **headers})


def public_pem(keyring: KeyRing) -> bytes:
    return keyring.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- assertions ---------------------------------------------------------------------------------------


async def call(world: World, authorization: str) -> Any:
    try:
        return await world.gql(VIEWER, headers={"Authorization": authorization})
    except Exception as exc:  # the app crashed instead of answering: that is a failure, not an error
        pytest.fail(f"the app raised {exc!r} instead of answering 401 UNAUTHENTICATED")


async def assert_refused(world: World, authorization: str) -> None:
    r = await call(world, authorization)
    assert r.status == 401, (r.status, r.body)
    assert "data" in r.body and r.body["data"] is None, r.body
    assert r.codes and r.codes[0] == "UNAUTHENTICATED", r.body
    assert r.errors[0]["extensions"].get("requestId"), r.body


async def assert_accepted(world: World, token: str, email: str) -> None:
    r = await call(world, f"Bearer {token}")
    assert r.status == 200, r.body
    assert not r.errors, r.body
    assert r.data["viewer"]["user"]["email"] == email


@pytest.fixture
async def tenant(world: World) -> Tenant:
    """A customer tenant whose member's ordinary token is accepted (the control of every attack)."""
    t = await world.tenant()
    await assert_accepted(world, world.member(t), t.member_email)
    return t


@pytest.fixture
async def dev_tenant(world: World) -> Tenant:
    """A tenant of the dev issuer, so an HS256 dev token is accepted: HS256 attacks then differ from a
    working token only by the secret or the issuer."""
    t = await world.tenant(issuer=world.settings.dev_issuer)
    token = mint_dev_token(
        world.settings, subject=f"sub|{t.member_email}", organization=t.external_org_id, email=t.member_email
    )
    await assert_accepted(world, token, t.member_email)
    return t


# --- A. attacks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_refused(world: World, tenant: Tenant, alg: str) -> None:
    claims = claims_for(tenant, tenant.member_email)
    for header in ({"alg": alg}, {"alg": alg, "typ": "JWT", "kid": "rsa-1"}):
        await assert_refused(world, f"Bearer {segment(header)}.{segment(claims)}.")


async def test_expired_token_is_refused(world: World, tenant: Tenant) -> None:
    await assert_refused(world, f"Bearer {world.token(tenant, tenant.member_email, exp_in=-120)}")
    # within the 30 s leeway the same token is still good: the refusal above is the expiry
    await assert_accepted(world, world.token(tenant, tenant.member_email, exp_in=-10), tenant.member_email)


async def test_not_yet_valid_token_is_refused(world: World, tenant: Tenant) -> None:
    await assert_refused(world, f"Bearer {world.token(tenant, tenant.member_email, nbf_in=120)}")
    await assert_accepted(world, world.token(tenant, tenant.member_email, nbf_in=10), tenant.member_email)


@pytest.mark.parametrize("aud", ["another-api", ["another-api", "yet-another"], "", "cockpit-api-2"])
async def test_wrong_audience_is_refused(world: World, tenant: Tenant, aud: Any) -> None:
    await assert_refused(world, f"Bearer {world.token(tenant, tenant.member_email, aud=aud)}")


async def test_wrong_issuer_is_refused(world: World, tenant: Tenant) -> None:
    nobody = f"https://idp.nobody-{uuid.uuid4().hex[:8]}.test"
    token = world.keys.token(
        iss=nobody, sub=f"sub|{tenant.member_email}", org=tenant.external_org_id, email=tenant.member_email
    )
    await assert_refused(world, f"Bearer {token}")


async def test_rs256_token_with_the_dev_issuer_is_refused(world: World, dev_tenant: Tenant) -> None:
    """The dev issuer belongs to HS256 dev tokens only; a JWKS-signed token cannot claim it."""
    token = sign(claims_for(dev_tenant, dev_tenant.member_email), world.keys.rsa_key, kid="rsa-1")
    await assert_refused(world, f"Bearer {token}")


async def test_hs256_signed_with_the_rsa_public_key_is_refused(
    world: World, dev_tenant: Tenant, tenant: Tenant
) -> None:
    """HS/RS confusion: the public key (which anyone can fetch) used as the HMAC secret."""
    pem = public_pem(world.keys)
    for t in (dev_tenant, tenant):
        claims = claims_for(t, t.member_email)
        for header in ({"alg": "HS256", "typ": "JWT"}, {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}):
            await assert_refused(world, f"Bearer {hs256_by_hand(claims, pem, header)}")
            await assert_refused(world, f"Bearer {hs256_by_hand(claims, pem.strip(), header)}")


async def test_hs256_with_a_wrong_secret_is_refused(world: World, dev_tenant: Tenant) -> None:
    claims = claims_for(dev_tenant, dev_tenant.member_email)
    secret = world.settings.dev_jwt_secret
    assert secret
    for wrong in (b"wrong-secret-" + b"x" * 32, secret.encode() + b"!", secret[:-1].encode(), b""):
        await assert_refused(world, f"Bearer {hs256_by_hand(claims, wrong)}")
    # the same claims with the right secret are accepted: the secret made the difference
    await assert_accepted(world, hs256_by_hand(claims, secret.encode()), dev_tenant.member_email)


async def test_hs256_with_the_dev_secret_but_another_issuer_is_refused(world: World, tenant: Tenant) -> None:
    secret = world.settings.dev_jwt_secret
    assert secret
    for iss in (tenant.issuer, "https://platform.cockpit.test"):
        claims = claims_for(tenant, tenant.member_email, iss=iss)
        await assert_refused(world, f"Bearer {hs256_by_hand(claims, secret.encode())}")
    claims = claims_for(tenant, tenant.member_email)
    del claims["iss"]
    await assert_refused(world, f"Bearer {hs256_by_hand(claims, secret.encode())}")


async def test_tampered_signature_is_refused(world: World, tenant: Tenant) -> None:
    for token in (world.member(tenant), world.token(tenant, tenant.member_email, alg="ES256")):
        header, payload, signature = token.split(".")
        raw = bytearray(b64url_decode(signature))
        for index in (0, len(raw) // 2, len(raw) - 1):
            flipped = bytearray(raw)
            flipped[index] ^= 0x01
            await assert_refused(world, f"Bearer {header}.{payload}.{b64url(bytes(flipped))}")
        await assert_refused(world, f"Bearer {header}.{payload}.{b64url(bytes(raw[:-1]))}")  # truncated
        await assert_refused(world, f"Bearer {header}.{payload}.")  # stripped


async def test_tampered_payload_is_refused(world: World, tenant: Tenant) -> None:
    """Another user's email/subject (the account admin, never signed in yet) under the member's signature."""
    token = world.member(tenant)
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    for change in (
        {"email": tenant.admin_email},
        {"sub": f"sub|{tenant.admin_email}"},
        {"sub": f"sub|{tenant.admin_email}", "email": tenant.admin_email},
        {"exp": claims["exp"] + 3600},
    ):
        await assert_refused(world, f"Bearer {header}.{segment(claims | change)}.{signature}")
    r = await world.gql(VIEWER, token=world.admin(tenant))
    assert r.data["viewer"]["user"]["email"] == tenant.admin_email  # the admin still works with its own token


async def test_unknown_kid_is_refused(world: World, tenant: Tenant) -> None:
    attacker = new_rsa_key()
    claims = claims_for(tenant, tenant.member_email)
    await assert_refused(world, f"Bearer {sign(claims, attacker, kid=f'unknown-{uuid.uuid4().hex}')}")
    await assert_refused(world, f"Bearer {sign(claims, world.keys.rsa_key, kid='no-such-kid')}")
    # a known kid does not vouch for another key, even when the token embeds that key as `jwk`
    attacker_jwk = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
    await assert_refused(world, f"Bearer {sign(claims, attacker, kid='rsa-1')}")
    await assert_refused(world, f"Bearer {sign(claims, attacker, kid='rsa-1', jwk=attacker_jwk)}")
    # no kid at all
    await assert_refused(world, f"Bearer {jwt.encode(claims, world.keys.rsa_key, algorithm='RS256')}")


async def test_algorithm_and_key_type_mismatch_is_refused(world: World, tenant: Tenant) -> None:
    claims = claims_for(tenant, tenant.member_email)
    # RS256 header naming the EC key (signed with the real RSA key)
    await assert_refused(world, f"Bearer {sign(claims, world.keys.rsa_key, kid='ec-1', alg='RS256')}")
    # ES256 header naming the RSA key (signed with the real EC key)
    await assert_refused(world, f"Bearer {sign(claims, world.keys.ec_key, kid='rsa-1', alg='ES256')}")
    # algorithms the verifier does not take, even with a real key
    await assert_refused(world, f"Bearer {sign(claims, world.keys.rsa_key, kid='rsa-1', alg='PS256')}")
    await assert_refused(world, f"Bearer {sign(claims, world.keys.rsa_key, kid='rsa-1', alg='RS512')}")
    # the controls: each key with its own algorithm is accepted
    await assert_accepted(world, sign(claims, world.keys.rsa_key, kid="rsa-1"), tenant.member_email)
    await assert_accepted(world, sign(claims, world.keys.ec_key, kid="ec-1", alg="ES256"), tenant.member_email)


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "aud", "iss"])
async def test_missing_required_claim_is_refused(world: World, tenant: Tenant, claim: str) -> None:
    claims = claims_for(tenant, tenant.member_email)
    del claims[claim]
    await assert_refused(world, f"Bearer {sign(claims, world.keys.rsa_key, kid='rsa-1')}")


@pytest.mark.parametrize("bad", ["\u0000", "\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize("claim", ["iss", "sub", "email", ORG_CLAIM, "name"])
async def test_claims_postgresql_cannot_store_are_refused(world: World, tenant: Tenant, claim: str, bad: str) -> None:
    """Properly signed, but a claim that sign-in looks up or stores holds U+0000 or an unpaired surrogate
    (neither fits a `text` column): 401 like any bad token, not an HTTP 500 from the database driver."""
    claims = claims_for(tenant, tenant.member_email, name="Member Name")
    value = str(claims[claim])
    claims[claim] = value[:1] + bad + value[1:]
    await assert_refused(world, f"Bearer {sign(claims, world.keys.rsa_key, kid='rsa-1')}")


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "a.b.c",
        "....",
        "eyJ",
        "not a jwt at all",
        "eyJhbGciOiJSUzI1NiJ9",  # a header only
        "eyJhbGciOiJSUzI1NiJ9.e30",  # header and payload, no signature segment
        "%%%.%%%.%%%",
        "x" * 4000,
    ],
)
async def test_garbage_bearer_value_is_refused(world: World, value: str) -> None:
    await assert_refused(world, f"Bearer {value}")


@pytest.mark.parametrize(
    "header",
    [
        {"alg": ["RS256"], "kid": "rsa-1"},
        {"alg": {"RS256": True}, "kid": "rsa-1"},
        {"alg": None, "kid": "rsa-1"},
        {"alg": 256, "kid": "rsa-1"},
        {"alg": "RS256", "kid": ["rsa-1"]},
        {"alg": "RS256", "kid": 1},
        {"alg": "RS256", "kid": ""},
    ],
    ids=["alg-list", "alg-object", "alg-null", "alg-number", "kid-list", "kid-number", "kid-empty"],
)
async def test_malformed_header_fields_are_refused(world: World, tenant: Tenant, header: dict[str, Any]) -> None:
    """A header whose alg/kid are not strings is a malformed token (401), never a server error."""
    good = sign(claims_for(tenant, tenant.member_email), world.keys.rsa_key, kid="rsa-1")
    _, payload, signature = good.split(".")
    await assert_refused(world, f"Bearer {segment(header)}.{payload}.{signature}")


async def test_non_bearer_authorization_is_refused(world: World, tenant: Tenant) -> None:
    token = world.member(tenant)
    for value in (
        "Basic dXNlcjpwYXNzd29yZA==",
        f"Token {token}",
        f"JWT {token}",
        f"Digest {token}",
        token,  # no scheme
        "Bearer",
        "Bearer    ",
    ):
        await assert_refused(world, value)
    await assert_accepted(world, token, tenant.member_email)  # the same token as a Bearer is fine


async def test_auth_error_carries_one_request_id(world: World) -> None:
    """The refusal names its request id once: the body's requestId and a single x-request-id header."""
    for headers in ({"Authorization": "Bearer garbage"}, {"Authorization": "Bearer garbage", "x-request-id": "req-1"}):
        r = await world.client.post("/graphql", json={"query": VIEWER}, headers=headers)
        assert r.status_code == 401
        request_id = r.json()["errors"][0]["extensions"]["requestId"]
        assert r.headers.get_list("x-request-id") == [request_id]
        if "x-request-id" in headers:
            assert request_id == "req-1"


# --- E. key rotation: the JWKS file -------------------------------------------------------------------------


def rewrite_jwks(keyring: KeyRing) -> None:
    """Rewrite the JWKS file and make sure its mtime moves forward (FileKeySource re-reads on change)."""
    before = keyring.path.stat().st_mtime_ns
    keyring.write()
    after = max(before, keyring.path.stat().st_mtime_ns) + 2_000_000_000
    os.utime(keyring.path, ns=(after, after))


async def test_file_key_source_picks_up_a_rotated_key(world: World, keyring: KeyRing) -> None:
    t = await world.tenant()
    kid = f"rotated-{uuid.uuid4().hex[:8]}"
    key = new_rsa_key()
    token = world.token(t, t.member_email, kid=kid, key=key)
    await assert_refused(world, f"Bearer {token}")  # not published yet (and the file is now cached)
    keyring.extra[kid] = key
    try:
        rewrite_jwks(keyring)
        await assert_accepted(world, token, t.member_email)
        await assert_accepted(world, world.member(t), t.member_email)  # the old key still works
    finally:
        del keyring.extra[kid]
        rewrite_jwks(keyring)
    # the key is withdrawn again: its tokens are refused, the remaining keys still work
    await assert_refused(world, f"Bearer {token}")
    await assert_accepted(world, world.member(t), t.member_email)


# --- E. key rotation: the JWKS URL (unit level, against a real HTTP server) ----------------------------------


def jwks_with(keyring: KeyRing, **extra: Any) -> dict[str, Any]:
    document = keyring.jwks()
    for kid, key in extra.items():
        document["keys"].append(
            json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": kid, "use": "sig", "alg": "RS256"}
        )
    return document


@pytest.fixture
def jwks_server(keyring: KeyRing) -> Iterator[JwksServer]:
    server = JwksServer(keyring.jwks()).start()
    yield server
    server.stop()


def same_rsa_key(jwk: Any, private_key: Any) -> bool:
    return jwk is not None and jwk.key.public_numbers() == private_key.public_key().public_numbers()


async def test_url_key_source_caches_keys(jwks_server: JwksServer, keyring: KeyRing) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=0)
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    assert (source.fetches, jwks_server.hits) == (1, 1)
    for _ in range(5):
        assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
        assert (await source.get("ec-1")).key_type == "EC"
    assert (source.fetches, jwks_server.hits) == (1, 1)


async def test_url_key_source_refetches_an_unknown_kid_after_rotation(
    jwks_server: JwksServer, keyring: KeyRing
) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=0)
    assert await source.get("rsa-1") is not None
    assert source.fetches == 1
    rotated = new_rsa_key()
    jwks_server.document = jwks_with(keyring, rotated=rotated)
    assert same_rsa_key(await source.get("rotated"), rotated)
    assert (source.fetches, jwks_server.hits) == (2, 2)
    assert same_rsa_key(await source.get("rotated"), rotated)  # now cached
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    assert (source.fetches, jwks_server.hits) == (2, 2)


async def test_url_key_source_refreshes_when_the_cache_expires(jwks_server: JwksServer, keyring: KeyRing) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=1, min_refresh_seconds=0)
    assert await source.get("rsa-1") is not None
    document = keyring.jwks()
    document["keys"] = [k for k in document["keys"] if k["kid"] != "rsa-1"]  # rsa-1 withdrawn
    jwks_server.document = document
    assert await source.get("rsa-1") is not None  # still fresh in the cache
    assert source.fetches == 1
    await asyncio.sleep(1.2)
    assert await source.get("rsa-1") is None  # the cache expired: the withdrawn key is gone
    assert source.fetches == 2


async def test_url_key_source_limits_refreshes_for_unknown_kids(jwks_server: JwksServer, keyring: KeyRing) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=1)
    assert await source.get("rsa-1") is not None
    for i in range(10):
        assert await source.get(f"unknown-{i}") is None
    assert (source.fetches, jwks_server.hits) == (1, 1)
    late = new_rsa_key()
    jwks_server.document = jwks_with(keyring, late=late)
    assert await source.get("late") is None  # published, but within min_refresh_seconds of the last fetch
    assert (source.fetches, jwks_server.hits) == (1, 1)
    await asyncio.sleep(1.2)
    assert same_rsa_key(await source.get("late"), late)
    assert (source.fetches, jwks_server.hits) == (2, 2)
    for i in range(10):
        assert await source.get(f"unknown-again-{i}") is None
    assert (source.fetches, jwks_server.hits) == (2, 2)


async def test_url_key_source_refreshes_concurrent_unknown_kids_once(jwks_server: JwksServer, keyring: KeyRing) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=1)
    results = await asyncio.gather(
        *(source.get("rsa-1") for _ in range(10)), *(source.get(f"unknown-{i}") for i in range(10))
    )
    assert all(same_rsa_key(r, keyring.rsa_key) for r in results[:10])
    assert all(r is None for r in results[10:])
    assert (source.fetches, jwks_server.hits) == (1, 1)


async def test_url_key_source_keeps_serving_cached_keys_when_the_provider_is_down(
    jwks_server: JwksServer, keyring: KeyRing
) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=1, min_refresh_seconds=0)
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    jwks_server.stop()
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    assert await source.get("unknown") is None  # the refresh fails quietly: no key, no crash
    await asyncio.sleep(1.2)  # the cache is stale and the provider still down
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    assert (await source.get("ec-1")).key_type == "EC"
    assert source.fetches == 1


async def test_url_key_source_keeps_serving_cached_keys_when_the_provider_fails(
    jwks_server: JwksServer, keyring: KeyRing
) -> None:
    source = UrlKeySource(jwks_server.url, cache_seconds=1, min_refresh_seconds=0)
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    jwks_server.status = 500
    await asyncio.sleep(1.2)
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    assert source.fetches == 1


async def test_url_key_source_without_keys_refuses(jwks_server: JwksServer) -> None:
    jwks_server.status = 503
    failing = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=0)
    with pytest.raises(Unauthenticated):
        await failing.get("rsa-1")
    jwks_server.stop()
    down = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=0)
    with pytest.raises(Unauthenticated):
        await down.get("rsa-1")
    assert (failing.fetches, down.fetches) == (0, 0)


async def test_url_key_source_does_not_hammer_a_failing_provider(jwks_server: JwksServer, keyring: KeyRing) -> None:
    """While the provider fails, unknown kids (anyone can send them) must not make every request
    contact it: at most one attempt per min_refresh_seconds, as when it is up."""
    source = UrlKeySource(jwks_server.url, cache_seconds=300, min_refresh_seconds=1)
    assert await source.get("rsa-1") is not None
    await asyncio.sleep(1.2)
    jwks_server.status = 500
    for i in range(10):
        assert await source.get(f"unknown-{i}") is None
    assert same_rsa_key(await source.get("rsa-1"), keyring.rsa_key)
    assert jwks_server.hits <= 2, f"{jwks_server.hits} requests to a failing provider for 10 unknown kids"

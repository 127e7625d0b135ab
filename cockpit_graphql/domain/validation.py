"""Input validation shared by services: each returns the clean value or raises a UserInputError."""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from cockpit_graphql.domain.errors import UserErrorCode, UserInputError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_NAME = 200
MAX_EMAIL = 320
MAX_EXTERNAL_ID = 256


def clean_name(value: str, field: str = "name", max_length: int = MAX_NAME) -> str:
    name = " ".join(value.split())
    if not name:
        raise UserInputError.single(field, UserErrorCode.REQUIRED, f"`{field}` must not be blank.")
    if len(name) > max_length:
        raise UserInputError.single(field, UserErrorCode.TOO_LONG, f"`{field}` is longer than {max_length} characters.")
    return name


def clean_email(value: str, field: str = "email") -> str:
    email = value.strip().lower()
    if len(email) > MAX_EMAIL:
        raise UserInputError.single(field, UserErrorCode.TOO_LONG, f"`{field}` is longer than {MAX_EMAIL} characters.")
    if not EMAIL_RE.match(email):
        raise UserInputError.single(field, UserErrorCode.INVALID, f"{value!r} is not a valid email address.")
    return email


def clean_optional_text(value: str | None, field: str, max_length: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > max_length:
        raise UserInputError.single(field, UserErrorCode.TOO_LONG, f"`{field}` is longer than {max_length} characters.")
    return text


def clean_domains(values: list[str], field: str = "allowedEmailDomains") -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(values):
        domain = raw.strip().lower()
        if not DOMAIN_RE.match(domain):
            raise UserInputError.single((field, str(index)), UserErrorCode.INVALID, f"{raw!r} is not a domain name.")
        if domain not in out:
            out.append(domain)
    return out


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def parse_url(value: object) -> SplitResult | None:
    """`value` split as a URL, or None when it is not a string or not one: urllib raises ValueError on an
    unclosed IPv6 bracket or a port out of range, which a config check must answer as INVALID, not crash."""
    if not isinstance(value, str):
        return None
    try:
        parsed = urlsplit(value)
        parsed.port  # noqa: B018 - reading it validates the port
    except ValueError:
        return None
    return parsed


def storable_text(value: str) -> bool:
    """Whether PostgreSQL's `text` can hold `value`: no U+0000, and valid UTF-8 (a JSON `\\ud800` escape
    decodes to an unpaired surrogate, which asyncpg cannot encode). Either one reaching a statement is an
    error there, so input that ends up in SQL is checked with this first."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True

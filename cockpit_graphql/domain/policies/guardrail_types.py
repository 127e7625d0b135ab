"""Guardrail types and the validation of their config documents: every key known, every value
checked, so a typo never silently turns a guardrail into a no-op."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError
from cockpit_graphql.domain.validation import parse_url


class GuardrailType(StrEnum):
    PII_REDACTION = "PII_REDACTION"
    PROMPT_INJECTION = "PROMPT_INJECTION"
    CONTENT_SAFETY = "CONTENT_SAFETY"
    TOPIC_BLOCK = "TOPIC_BLOCK"
    WEBHOOK = "WEBHOOK"


class GuardrailMode(StrEnum):
    BLOCK = "BLOCK"
    REDACT = "REDACT"
    MONITOR = "MONITOR"


PII_ENTITIES = frozenset({"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "SSN", "PERSON_NAME", "ADDRESS", "IP_ADDRESS"})
SAFETY_CATEGORIES = frozenset({"HATE", "VIOLENCE", "SEXUAL", "SELF_HARM"})
MAX_TOPICS = 100
MAX_TOPIC_LENGTH = 200

Problems = list[tuple[str, str]]


def _threshold(config: dict[str, Any], problems: Problems, default: float) -> float:
    value = config.get("threshold", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(("threshold", "`threshold` is a number from 0 to 1."))
        return default
    return float(value)


def _choices(config: dict[str, Any], key: str, allowed: frozenset[str], problems: Problems) -> list[str]:
    value = config.get(key, sorted(allowed))
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append((key, f"`{key}` is a non-empty list of: {', '.join(sorted(allowed))}."))
        return []
    unknown = sorted({v for v in value if v not in allowed})
    if unknown:
        problems.append((key, f"Unknown {key}: {', '.join(unknown)}. Known: {', '.join(sorted(allowed))}."))
    return sorted(set(value))


def _pii(config: dict[str, Any], problems: Problems) -> dict[str, Any]:
    return {"entities": _choices(config, "entities", PII_ENTITIES, problems)}


def _injection(config: dict[str, Any], problems: Problems) -> dict[str, Any]:
    return {"threshold": _threshold(config, problems, 0.8)}


def _safety(config: dict[str, Any], problems: Problems) -> dict[str, Any]:
    return {
        "categories": _choices(config, "categories", SAFETY_CATEGORIES, problems),
        "threshold": _threshold(config, problems, 0.5),
    }


def _topics(config: dict[str, Any], problems: Problems) -> dict[str, Any]:
    topics = config.get("topics")
    if (
        not isinstance(topics, list)
        or not 1 <= len(topics) <= MAX_TOPICS
        or not all(isinstance(t, str) and 0 < len(t.strip()) <= MAX_TOPIC_LENGTH for t in topics)
    ):
        problems.append(("topics", f"`topics` is a list of 1 to {MAX_TOPICS} topics of 1 to {MAX_TOPIC_LENGTH} chars."))
        return {"topics": []}
    return {"topics": sorted({t.strip() for t in topics})}


def _webhook(config: dict[str, Any], problems: Problems) -> dict[str, Any]:
    url = config.get("url")
    parsed = parse_url(url)
    if parsed is None or parsed.scheme != "https" or not parsed.netloc or len(url or "") > 2000:
        problems.append(("url", "`url` is an https URL (at most 2,000 characters)."))
    timeout = config.get("timeoutMs", 2000)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 100 <= timeout <= 10_000:
        problems.append(("timeoutMs", "`timeoutMs` is a whole number from 100 to 10,000."))
    return {"url": url, "timeoutMs": timeout}


VALIDATORS: dict[GuardrailType, tuple[Callable[[dict[str, Any], Problems], dict[str, Any]], frozenset[str]]] = {
    GuardrailType.PII_REDACTION: (_pii, frozenset({"entities"})),
    GuardrailType.PROMPT_INJECTION: (_injection, frozenset({"threshold"})),
    GuardrailType.CONTENT_SAFETY: (_safety, frozenset({"categories", "threshold"})),
    GuardrailType.TOPIC_BLOCK: (_topics, frozenset({"topics"})),
    GuardrailType.WEBHOOK: (_webhook, frozenset({"url", "timeoutMs"})),
}

MODES: dict[GuardrailType, frozenset[GuardrailMode]] = {
    GuardrailType.PII_REDACTION: frozenset(GuardrailMode),
    GuardrailType.PROMPT_INJECTION: frozenset({GuardrailMode.BLOCK, GuardrailMode.MONITOR}),
    GuardrailType.CONTENT_SAFETY: frozenset({GuardrailMode.BLOCK, GuardrailMode.MONITOR}),
    GuardrailType.TOPIC_BLOCK: frozenset({GuardrailMode.BLOCK, GuardrailMode.MONITOR}),
    GuardrailType.WEBHOOK: frozenset(GuardrailMode),
}


def clean_config(kind: GuardrailType, mode: GuardrailMode, config: Any, field: str = "config") -> dict[str, Any]:
    """The normalised config of a guardrail of `kind`, or every problem at once as userErrors."""
    if mode not in MODES[kind]:
        allowed = ", ".join(sorted(MODES[kind]))
        raise UserInputError.single(
            "mode", UserErrorCode.INVALID, f"A {kind.value} guardrail's mode is one of {allowed}."
        )
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise UserInputError.single(field, UserErrorCode.INVALID, f"`{field}` is a JSON object.")
    validate, known = VALIDATORS[kind]
    problems: Problems = [(key, f"Unknown key `{key}` for {kind.value}.") for key in sorted(set(config) - known)]
    cleaned = validate(config, problems)
    if problems:
        raise UserInputError(*(UserErrorItem((field, key), UserErrorCode.INVALID, m) for key, m in problems))
    return cleaned

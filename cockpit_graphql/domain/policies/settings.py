"""What a scope can set explicitly, as the resolution reads it (parsed from policy_settings rows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SettingKind(StrEnum):
    MODEL_ACCESS = "MODEL_ACCESS"
    FLAG = "FLAG"
    GUARDRAIL = "GUARDRAIL"
    CONNECTION_MODE = "CONNECTION_MODE"


class GuardrailState(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class ConnectionMode(StrEnum):
    ADMIN_MANAGED = "ADMIN_MANAGED"
    SELF_MANAGED_ALLOWED = "SELF_MANAGED_ALLOWED"


DEFAULT_CONNECTION_MODE = ConnectionMode.ADMIN_MANAGED


@dataclass(frozen=True)
class Toggle(Generic[T]):
    """A value a scope sets, optionally locked (for guardrails: `enforced`)."""

    value: T
    locked: bool = False


@dataclass(frozen=True)
class ModelAccessSetting:
    """A scope's narrowing: an allow list (None = not set), a deny list and a default model."""

    allow: frozenset[uuid.UUID] | None = None
    deny: frozenset[uuid.UUID] = frozenset()
    default_model: uuid.UUID | None = None

    def to_document(self) -> dict[str, Any]:
        return {
            "allow": sorted(str(m) for m in self.allow) if self.allow is not None else None,
            "deny": sorted(str(m) for m in self.deny),
            "defaultModel": str(self.default_model) if self.default_model else None,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ModelAccessSetting:
        allow = doc.get("allow")
        default = doc.get("defaultModel")
        return cls(
            allow=frozenset(uuid.UUID(m) for m in allow) if allow is not None else None,
            deny=frozenset(uuid.UUID(m) for m in doc.get("deny", [])),
            default_model=uuid.UUID(default) if default else None,
        )


@dataclass
class ScopePolicies:
    """Every explicit policy setting of one scope."""

    model_access: ModelAccessSetting | None = None
    flags: dict[str, Toggle[bool]] = field(default_factory=dict)
    guardrails: dict[uuid.UUID, Toggle[GuardrailState]] = field(default_factory=dict)
    connection_mode: Toggle[ConnectionMode] | None = None

    def add(self, kind: str, key: str, value: dict[str, Any], locked: bool) -> None:
        """Fold one policy_settings row in."""
        match SettingKind(kind):
            case SettingKind.MODEL_ACCESS:
                self.model_access = ModelAccessSetting.from_document(value)
            case SettingKind.FLAG:
                self.flags[key] = Toggle(bool(value["enabled"]), locked)
            case SettingKind.GUARDRAIL:
                self.guardrails[uuid.UUID(key)] = Toggle(GuardrailState(value["state"]), locked)
            case SettingKind.CONNECTION_MODE:
                self.connection_mode = Toggle(ConnectionMode(value["mode"]), locked)


NO_POLICIES = ScopePolicies()

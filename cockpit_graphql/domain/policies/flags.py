"""The feature-flag registry: built-in flags with their defaults, extended by configuration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Flag(StrEnum):
    CREATE_CONNECTIONS = "CREATE_CONNECTIONS"
    CREATE_AGENTS = "CREATE_AGENTS"
    IMAGE_GENERATION = "IMAGE_GENERATION"
    MODEL_SELECTION = "MODEL_SELECTION"


@dataclass(frozen=True)
class FlagDefinition:
    key: str
    default: bool
    description: str
    built_in: bool = True


BUILT_IN: tuple[FlagDefinition, ...] = (
    FlagDefinition(Flag.CREATE_CONNECTIONS, False, "Members may create personal connections."),
    FlagDefinition(Flag.CREATE_AGENTS, False, "Members may create personal agents."),
    FlagDefinition(Flag.IMAGE_GENERATION, False, "Image models may be used; when off they drop out of model access."),
    FlagDefinition(
        Flag.MODEL_SELECTION,
        True,
        "Users may pick a model; when off the runtime uses the agent's model if allowed, else the default model.",
    ),
)

FLAG_KEY = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


def flag_registry(extra: dict[str, bool] | None = None) -> dict[str, FlagDefinition]:
    """Every flag by key: the built-ins, then those configured (EXTRA_FEATURE_FLAGS). A configured
    key must look like the built-ins and cannot redefine one."""
    registry = {d.key: d for d in BUILT_IN}
    for key, default in sorted((extra or {}).items()):
        name = key.strip().upper()
        if not FLAG_KEY.match(name):
            raise ValueError(f"feature flag {key!r}: names are 2 to 64 of A-Z, 0-9 and _, starting with a letter")
        if name in registry:
            raise ValueError(f"feature flag {name} is built in; its default cannot be redefined")
        registry[name] = FlagDefinition(name, bool(default), "Configured by the operator.", built_in=False)
    return registry

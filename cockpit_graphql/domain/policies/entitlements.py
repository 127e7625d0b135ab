"""An account's entitlements: the ceiling a super admin sets (domain.md §1, §3).

`allow_all_models` lets every enabled catalog model through; otherwise only `allowed_model_ids`
(catalog model ids) do. `disabled_features` are feature flags that are off and locked for the whole
account. The account row stores it as a JSON document with raw uuid strings; GraphQL shows Model
global ids. A model id that is no longer in the catalog (the model was deleted) simply stops
matching anything: it is kept in the document until the next update, which validates every id.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from cockpit_graphql.db.tables import CatalogModel
from cockpit_graphql.domain.errors import UserErrorCode, UserErrorItem, UserInputError


def _uuids(values: Any) -> frozenset[uuid.UUID]:
    out: set[uuid.UUID] = set()
    for raw in values or []:
        try:
            out.add(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError:
            continue  # a free-text id from before the catalog (never written since): it matches nothing
    return frozenset(out)


@dataclass(frozen=True)
class Entitlements:
    """The ceiling of one account. The default (a new account) allows every model and every feature."""

    allow_all_models: bool = True
    allowed_model_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    disabled_features: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> Entitlements:
        doc = doc or {}
        return cls(
            allow_all_models=bool(doc.get("allowAllModels", True)),
            allowed_model_ids=_uuids(doc.get("allowedModelIds")),
            disabled_features=frozenset(str(f) for f in doc.get("disabledFeatures") or []),
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "allowAllModels": self.allow_all_models,
            "allowedModelIds": sorted(str(i) for i in self.allowed_model_ids),
            "disabledFeatures": sorted(self.disabled_features),
        }


@dataclass(frozen=True)
class EntitlementsRequest:
    """What a super admin asks for, in input order, so that a refusal can name the offending index."""

    allow_all_models: bool
    allowed_model_ids: Sequence[uuid.UUID] = ()
    disabled_features: Sequence[str] = ()


async def validate_entitlements(
    session: AsyncSession, request: EntitlementsRequest, known_features: Collection[str]
) -> Entitlements:
    """Every model must exist in the catalog (one statement) and every feature must be a registered
    flag; otherwise NOT_FOUND at ("allowedModelIds", i) / ("disabledFeatures", i). Duplicates collapse."""
    problems: list[UserErrorItem] = []
    ids = list(request.allowed_model_ids)
    found: set[uuid.UUID] = set()
    if ids:
        found = set((await session.scalars(sa.select(CatalogModel.id).where(CatalogModel.id.in_(set(ids))))).all())
    for index, model_id in enumerate(ids):
        if model_id not in found:
            problems.append(
                UserErrorItem(("allowedModelIds", str(index)), UserErrorCode.NOT_FOUND, "No such model in the catalog.")
            )
    known = {k.upper() for k in known_features}
    features: set[str] = set()
    for index, raw in enumerate(request.disabled_features):
        name = raw.strip().upper()
        if name not in known:
            problems.append(
                UserErrorItem(
                    ("disabledFeatures", str(index)),
                    UserErrorCode.NOT_FOUND,
                    f"{raw!r} is not a registered feature flag ({', '.join(sorted(known))}).",
                )
            )
        features.add(name)
    if problems:
        raise UserInputError(*problems)
    return Entitlements(request.allow_all_models, frozenset(ids), frozenset(features))

"""The Node interface."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with an opaque, globally unique id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="The opaque global id.")

"""`@leaf_input` builds exactly what strawberry's own conversion builds (types/leaf_input.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import strawberry
from strawberry.types.arguments import InputContext, convert_argument
from strawberry.types.base import get_object_definition

from cockpit_graphql.schema import schema
from cockpit_graphql.types.budget_mutations import RecordUsageBatchInput, UsageEventInput
from cockpit_graphql.types.leaf_input import PlanField, leaf_input, leaf_plan

SAMPLES: list[dict[str, Any]] = [
    {"idempotencyKey": "k1", "userId": "VXNlcjox"},
    {
        "idempotencyKey": "k2",
        "userId": "VXNlcjox",
        "costUsd": Decimal("0.0000000001"),
        "occurredAt": datetime(2026, 11, 27, 5, 0, tzinfo=UTC),
        "agentId": "agent",
        "modelId": "gpt-4o",
        "connectionIds": ["c1", "c2"],
        "guardrails": ["pii"],
        "tokensIn": 12,
        "tokensOut": 34,
        "reservationId": "UmVzZXJ2YXRpb246MQ==",
    },
    {"idempotencyKey": "k3", "userId": "VXNlcjox", "costUsd": None, "agentId": None, "connectionIds": []},
]


def _convert(value: dict[str, Any], *, fast: bool) -> Any:
    definition = get_object_definition(UsageEventInput, strict=True)
    hook = definition.from_input
    if not fast:
        definition.from_input = None
    try:
        registry = schema.schema_converter.scalar_registry
        return convert_argument(value, UsageEventInput, registry, schema.config)
    finally:
        definition.from_input = hook


@pytest.mark.parametrize("value", SAMPLES, ids=["required only", "every field", "explicit nulls"])
def test_usage_event_input_is_built_as_strawberry_builds_it(value: dict[str, Any]) -> None:
    fast, reference = _convert(value, fast=True), _convert(value, fast=False)
    assert type(fast) is UsageEventInput
    assert dataclasses.asdict(fast) == dataclasses.asdict(reference)


def test_list_values_are_copied_not_shared() -> None:
    ids = ["c1"]
    built = _convert({"idempotencyKey": "k", "userId": "VXNlcjox", "connectionIds": ids}, fast=True)
    built.connection_ids.append("c2")
    assert ids == ["c1"]


def test_the_plan_names_every_field_once_with_its_graphql_name() -> None:
    definition = get_object_definition(UsageEventInput, strict=True)
    context = InputContext(None, schema.config, schema.schema_converter.scalar_registry, ())
    plan = leaf_plan(definition, context)
    assert [field.python_name for field in plan] == [f.python_name for f in definition.fields]
    assert PlanField("connection_ids", "connectionIds", True) in plan
    assert PlanField("cost_usd", "costUsd", False) in plan


def _convert_batch(value: dict[str, Any], *, fast: bool) -> Any:
    hooks = {
        cls: get_object_definition(cls, strict=True).from_input for cls in (RecordUsageBatchInput, UsageEventInput)
    }
    if not fast:
        for cls in hooks:
            get_object_definition(cls, strict=True).from_input = None
    try:
        registry = schema.schema_converter.scalar_registry
        return convert_argument(value, RecordUsageBatchInput, registry, schema.config)
    finally:
        for cls, hook in hooks.items():
            get_object_definition(cls, strict=True).from_input = hook


def test_a_batch_builds_its_events_with_their_plan_as_strawberry_builds_them() -> None:
    value = {"events": SAMPLES}
    fast, reference = _convert_batch(value, fast=True), _convert_batch(value, fast=False)
    assert type(fast) is RecordUsageBatchInput
    assert [type(e) for e in fast.events] == [UsageEventInput] * len(SAMPLES)
    assert dataclasses.asdict(fast) == dataclasses.asdict(reference)
    assert fast.events is not value["events"]


def test_a_list_of_leaf_inputs_is_planned_with_the_item_builder() -> None:
    definition = get_object_definition(RecordUsageBatchInput, strict=True)
    context = InputContext(None, schema.config, schema.schema_converter.scalar_registry, ())
    [events] = leaf_plan(definition, context)
    assert (events.graphql_name, events.is_list, events.item_type) == ("events", True, UsageEventInput)
    assert events.item_builder is get_object_definition(UsageEventInput, strict=True).from_input


def test_an_input_with_a_nested_input_field_is_refused() -> None:
    @strawberry.input(description="inner")
    class Inner:
        a: int = strawberry.field(description="a")

    @leaf_input
    @strawberry.input(description="outer")
    class Outer:
        inner: Inner = strawberry.field(description="inner")

    with pytest.raises(TypeError, match=r"Outer\.inner is not a scalar"):
        convert_argument({"inner": {"a": 1}}, Outer, schema.schema_converter.scalar_registry, schema.config)


def test_only_input_types_take_the_decorator() -> None:
    @strawberry.type(description="output")
    class Output:
        a: int = strawberry.field(description="a")

    with pytest.raises(TypeError, match="not an input type"):
        leaf_input(Output)

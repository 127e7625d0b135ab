"""schema.graphql is generated, loadable by client tooling, documented, and evolves without breaking."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from cockpit_graphql.schema import FEDERATION_VERSION
from cockpit_graphql.schema_evolution import dangerous_changes, judge
from cockpit_graphql.schema_export import SCHEMA_PATH, render_schema
from cockpit_graphql.types.enums import described_enum
from tests.support.world import World

RELEASED = Path(__file__).resolve().parents[1] / "schema_history" / "released.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SCHEMA_PATH.read_text() == render_schema(), "schema.graphql drifted: run `make schema` and commit it"


def test_schema_file_loads_in_graphql_core() -> None:
    schema = build_schema(SCHEMA_PATH.read_text())
    assert schema.get_type("User") is not None
    assert schema.get_directive("key") is not None and schema.get_directive("link") is not None
    assert f"federation/v{FEDERATION_VERSION}" in SCHEMA_PATH.read_text()


def undocumented(schema: GraphQLSchema) -> list[str]:
    """Every type, field, argument, input field and enum value of `schema` without a description (introspection
    and the federation link types aside; the federation fields and types are described too), as `Type`,
    `Type.field`, `Type.field(arg)` or `Enum.VALUE`."""
    missing = []
    for name, gtype in schema.type_map.items():
        if name.startswith("__") or "__" in name:  # introspection, and the federation link types
            continue
        if name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gtype.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description and arg_name not in ("first", "after", "last", "before"):
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gtype, GraphQLEnumType):
            missing.extend(
                f"{name}.{value}" for value, definition in gtype.values.items() if not definition.description
            )
    return missing


def test_every_type_field_argument_enum_and_enum_value_is_described() -> None:
    missing = undocumented(build_schema(SCHEMA_PATH.read_text()))
    assert not missing, f"undocumented schema elements: {missing}"


def test_the_description_check_names_each_enum_value_without_one() -> None:
    schema = build_schema(
        '"""Q."""\ntype Query {\n  "A."\n  a: Kind\n}\n"""K."""\nenum Kind {\n  "One."\n  ONE\n  TWO\n  THREE\n}'
    )
    assert undocumented(schema) == ["Kind.TWO", "Kind.THREE"]


def test_described_enum_refuses_a_value_without_a_description_or_a_description_of_no_value() -> None:
    class Colour(StrEnum):
        RED = "RED"
        BLUE = "BLUE"

    with pytest.raises(ValueError, match=r"without a description \['BLUE'\]"):
        described_enum(Colour, name="Colour", description="A colour.", values={"RED": "Red."})
    with pytest.raises(ValueError, match=r"without a description \['BLUE'\]"):
        described_enum(Colour, name="Colour", description="A colour.", values={"RED": "Red.", "BLUE": " "})
    with pytest.raises(ValueError, match=r"of no value \['GREEN'\]"):
        described_enum(
            Colour, name="Colour", description="A colour.", values={"RED": "Red.", "BLUE": "Blue.", "GREEN": "Green."}
        )


def test_described_enum_keeps_the_domain_members_and_describes_each_value() -> None:
    class Shade(StrEnum):
        LIGHT = "LIGHT"
        DARK = "DARK"

    wrapped = described_enum(Shade, name="Shade", description="A shade.", values={"LIGHT": "Pale.", "DARK": "Deep."})
    assert wrapped is Shade and Shade("DARK") is Shade.DARK
    definition = Shade.__strawberry_definition__  # type: ignore[attr-defined]
    assert [(v.name, v.value, v.description) for v in definition.values] == [
        ("LIGHT", "LIGHT", "Pale."),
        ("DARK", "DARK", "Deep."),
    ]


def test_no_unapproved_breaking_change_against_the_released_schema() -> None:
    verdicts = judge(RELEASED.read_text(), SCHEMA_PATH.read_text(), date.today())
    refused = [f"{v.change.type.name}: {v.change.description} ({v.reason})" for v in verdicts if not v.allowed]
    assert not refused, "breaking changes without an expired deprecation:\n" + "\n".join(refused)
    print("dangerous (allowed) changes:", dangerous_changes(RELEASED.read_text(), SCHEMA_PATH.read_text()))


OLD = """
type Query { a: String b: String @deprecated(reason: "Use a. Removal after 2020-01-01.")
  c: String @deprecated(reason: "Use a. Removal after 2999-01-01.") d: String @deprecated(reason: "Use a.")
  e(x: Int): String k: Kind }
enum Kind { ONE TWO @deprecated(reason: "Removal after 2020-01-01.") THREE }
"""


def test_the_policy_itself() -> None:
    new = "type Query { a: Int e(x: Int, y: Int!): String k: Kind } enum Kind { ONE }"
    verdicts = {v.change.description: v for v in judge(OLD, new, date(2026, 11, 26))}
    assert verdicts["Field Query.b was removed."].allowed
    assert not verdicts["Field Query.c was removed."].allowed  # removal date not reached
    assert not verdicts["Field Query.d was removed."].allowed  # deprecated without a date
    assert not verdicts["Field Query.a changed type from String to Int."].allowed
    assert not verdicts["A required argument Query.e(y:) was added."].allowed
    assert verdicts["Enum value Kind.TWO was removed."].allowed
    assert not verdicts["Enum value Kind.THREE was removed."].allowed
    assert len(verdicts) == 7


async def test_service_sdl_and_federation_queries(world: World) -> None:
    r = await world.gql("{ _service { sdl } }")
    assert r.errors == []
    assert '@key(fields: "id")' in r.data["_service"]["sdl"]

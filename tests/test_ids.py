"""Global ids: every id we issue decodes back, and strings longer than any of them are refused unread
(the decoder is memoized, so it never holds a long client string)."""

from __future__ import annotations

import uuid

from cockpit_graphql.types.ids import KNOWN_TYPES, MAX_ID_LENGTH, GlobalId, _decode, decode_id, encode_id

MAX_UUID = uuid.UUID(int=2**128 - 1)


def test_every_issued_id_fits_the_decoders_length_bound_and_decodes_back() -> None:
    for type_name in sorted(KNOWN_TYPES):
        issued = encode_id(type_name, MAX_UUID, MAX_UUID)
        assert len(issued) <= MAX_ID_LENGTH, type_name
        decoded = decode_id(issued)
        assert decoded is not None and decoded.type_name == type_name and decoded.id == MAX_UUID


def test_a_string_longer_than_any_id_is_not_one_of_ours_and_is_not_remembered() -> None:
    issued = encode_id("User", uuid.uuid4(), uuid.uuid4())
    before = _decode.cache_info().currsize
    assert decode_id(issued + "A" * MAX_ID_LENGTH) is None
    assert _decode.cache_info().currsize == before


def test_a_repeated_id_decodes_to_the_same_value() -> None:
    account, user = uuid.uuid4(), uuid.uuid4()
    issued = encode_id("User", account, user)
    assert decode_id(issued) == decode_id(issued) == GlobalId("User", account, user)
    assert decode_id("not an id") is None and decode_id("") is None

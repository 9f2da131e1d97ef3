"""Inbound payloads from the control room: strict, bounded, and refused when nonsensical."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge.payloads import MAX_RESEND_SPAN, SEQ_MAX, Ack, Resend


def test_a_resend_range_is_inclusive() -> None:
    assert list(Resend.model_validate_json(b'{"from_seq": 3, "to_seq": 5}').span()) == [3, 4, 5]


def test_a_resend_range_that_runs_backwards_is_refused() -> None:
    with pytest.raises(ValidationError, match="to_seq"):
        Resend.model_validate_json(b'{"from_seq": 9, "to_seq": 2}')


def test_a_huge_resend_range_is_served_in_one_bounded_span() -> None:
    req = Resend.model_validate_json(b'{"from_seq": 1, "to_seq": 100000000000}')
    assert len(req.span()) == MAX_RESEND_SPAN


@pytest.mark.parametrize("field", ["from_seq", "to_seq"])
def test_a_resend_seq_beyond_what_the_store_can_hold_is_refused(field: str) -> None:
    fields = {"from_seq": 1, "to_seq": 1} | {field: SEQ_MAX + 1}
    with pytest.raises(ValidationError, match=field):
        Resend.model_validate(fields)


def test_a_resend_at_the_top_of_the_seq_range_stays_inside_it() -> None:
    req = Resend.model_validate({"from_seq": SEQ_MAX - 2, "to_seq": SEQ_MAX})
    assert req.span()[-1] == SEQ_MAX


def test_a_seq_written_as_a_string_is_refused_as_the_schema_says() -> None:
    with pytest.raises(ValidationError, match="from_seq"):
        Resend.model_validate_json(b'{"from_seq": "1", "to_seq": 2}')


def test_an_ack_names_who_acknowledged() -> None:
    with pytest.raises(ValidationError, match="by"):
        Ack.model_validate_json(b'{"event_id": "e-1"}')


def test_an_ack_with_a_field_it_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Ack.model_validate_json(b'{"event_id": "e-1", "by": "Sari", "role": "admin"}')

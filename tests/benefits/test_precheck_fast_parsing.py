"""The pre-check's request path kept cheap without changing what it accepts: the lines field
decides exactly as DRF's nested line serializer did, and the claim's one statement is prepared
once per connection (or not at all when PRECHECK_PREPARED_STATEMENT is off)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from apps.benefits.adjudication import adjudicate
from apps.benefits.api.serializers import ClaimLineSerializer, ClaimLinesField

from .conftest import DRUG_A
from .rules import line, rules_claim

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**14), max_value=10**14),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=70),
    st.sampled_from(["1", " 1", "1.5", "１", "1e3", "NaN", "XA01", "\x00", "\ud800", "001102000010000 ", "3660", "3661"]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)
line_dicts = st.dictionaries(st.sampled_from(["line_no", "code", "quantity", "amount_fen", "days", "extra"]), values, max_size=6)


def _nested(data: Any) -> tuple[bool, Any]:
    serializer = ClaimLineSerializer(data=data, many=True)
    ok = serializer.is_valid()
    return ok, [dict(line) for line in serializer.validated_data] if ok else serializer.errors


def _ours(data: Any) -> tuple[bool, Any]:
    try:
        return True, ClaimLinesField(line_serializer=ClaimLineSerializer, max_length=5_000).run_validation(data)
    except serializers.ValidationError as exc:
        return False, exc.detail


def _field_errors(errors: Any) -> set[tuple[str, str, str]]:
    """(line index, field, code) of nested errors, whichever container DRF used."""
    items = errors.items() if isinstance(errors, dict) else enumerate(errors)
    return {(str(index), field, str(e.code)) for index, line in items if line for field, found in line.items() for e in found}


@settings(max_examples=300, deadline=None)
@given(st.lists(line_dicts, min_size=1, max_size=4))
def test_the_lines_field_accepts_and_refuses_exactly_as_the_nested_serializer(lines):
    expected_ok, expected = _nested(lines)
    ok, got = _ours(lines)
    assert ok == expected_ok
    if ok:
        assert [{k: (v.normalize() if isinstance(v, Decimal) else v) for k, v in line.items()} for line in got] == [
            {k: (v.normalize() if isinstance(v, Decimal) else v) for k, v in line.items()} for line in expected
        ]
    else:
        assert _field_errors(got) == _field_errors(expected)


@pytest.mark.django_db
def test_the_claims_statement_is_prepared_once_per_connection(rules_release, home_policy):
    for amount in (1_000, 2_000, 3_000):
        adjudicate(rules_claim(line(DRUG_A["code"], amount)))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%WITH release_in_force AS%"])
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_turned_off_the_statement_is_not_prepared_and_answers_the_same(rules_release, home_policy):
    claim = rules_claim(line(DRUG_A["code"], 1_000))
    with override_settings(PRECHECK_PREPARED_STATEMENT=False):
        unprepared = adjudicate(claim).as_dict()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone()[0] == 0
    assert adjudicate(claim).as_dict() == unprepared


@pytest.mark.django_db
def test_the_claims_statement_fits_psycopgs_cache_of_parsed_statements():
    """psycopg parses a statement's placeholders again on every execution once its text is over
    its cache limit (4 KiB): about 0.15 ms of a 20-line claim. Growing the statement past it is a
    choice to make knowingly (trim the statement, or accept the cost and change this test)."""
    from psycopg import _queries

    from apps.benefits.adjudication import _scope_statement

    assert len(_scope_statement()[0].encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH

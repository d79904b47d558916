"""The pre-check's request path kept cheap without changing what it accepts: the lines field
decides exactly as DRF's nested line serializer did, the request body's fast readers decide
only what DRF's fields would accept, and as they would, and the claim's one statement is prepared
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
from apps.benefits.api.serializers import ClaimLineSerializer, ClaimLinesField, PrecheckRequestSerializer, SimulationRequestSerializer

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


# --- the whole request body: fast readers against DRF's fields ---------------------------------

_usual = {
    "home_province": st.sampled_from(["510000", "310000", "660000", " 510000", "５１００００", "510100", "51000", "990000"]),
    "destination_province": st.sampled_from(["310000", "510000", "310100", "3100000", ""]),
    "date_of_service": st.sampled_from(
        ["2090-01-02", "2026-02-28", "2026-02-30", "20260102", "2026-1-2", " 2026-01-02", "2026-01-02T00:00"]
    ),
    "scheme": st.sampled_from(["employee", "resident", "EMPLOYEE", ""]),
    "setting": st.sampled_from(["inpatient", "outpatient", "chronic_outpatient", "x"]),
    "diagnoses": st.lists(st.sampled_from(["K35.800", "E11.900", " K35", "", "x" * 65, "K35\x00"]), max_size=3),
    "procedures": st.lists(st.sampled_from(["36.0601", "60.2900x004", "", "36 06"]), max_size=3),
    "registered": st.sampled_from([True, False, "true", 1, None]),
    "drg_payment": st.sampled_from([True, False, "false", 0]),
    "hospital_level": st.sampled_from(["3A", "1A", "unrated", "", "4A", None]),
    "deductible_used_fen": st.sampled_from([0, 1, 2**63 - 1, 2**63, -1, "100", 1.0, True]),
    "fund_paid_ytd_fen": st.sampled_from([0, 50_000, -5, "x"]),
    "drg_group": st.sampled_from(["", "GB11", " GB11", "G" * 17, None, 7]),
    "hospital": st.sampled_from(["H31010100998", "h31010100998", "H3101010099", "X31010100998"]),
    "pooling_area": st.sampled_from(["310100", "310000", "31010", "510100"]),
}
_good_line = st.fixed_dictionaries(
    {
        "line_no": st.integers(1, 30),
        "code": st.sampled_from(["001102000010000", "XA01AAA0001010101234"]),
        "amount_fen": st.integers(0, 10**6),
    },
    optional={"quantity": st.sampled_from([1, 2, "1.5", 0]), "days": st.sampled_from([None, 1, 3660, 3661])},
)


def _bodies(names: list[str]) -> Any:
    fields = {name: st.one_of(_usual[name], values) if name in _usual else values for name in names if name != "lines"}
    fields["lines"] = st.one_of(st.lists(_good_line, min_size=1, max_size=3), st.lists(line_dicts, max_size=2), values)
    return st.fixed_dictionaries({}, optional=fields)


def _drf(serializer_class: Any, body: Any) -> Any:
    """What DRF's own fields make of ``body`` (None: refused)."""
    try:
        return dict(serializers.Serializer.run_validation(serializer_class(data=body), body))
    except serializers.ValidationError:
        return None


def _check_fast_agrees(serializer_class: Any, body: Any) -> None:
    fast = serializer_class(data=body).fast_validated(body)
    if fast is not None:  # the fast path decided: DRF's fields accept the body and make the same of it
        assert fast == _drf(serializer_class, body)


@settings(max_examples=400, deadline=None)
@given(_bodies(list(PrecheckRequestSerializer._declared_fields)))
def test_the_precheck_body_read_fast_is_what_drfs_fields_make_of_it(body):
    _check_fast_agrees(PrecheckRequestSerializer, body)


@settings(max_examples=300, deadline=None)
@given(_bodies(list(SimulationRequestSerializer._declared_fields)))
def test_the_simulation_body_read_fast_is_what_drfs_fields_make_of_it(body):
    _check_fast_agrees(SimulationRequestSerializer, body)


_REQUIRED = ("home_province", "date_of_service", "scheme", "setting")


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {name: _usual[name] for name in _REQUIRED}, optional={name: _usual[name] for name in _usual if name not in _REQUIRED}
    ),
    st.lists(_good_line, min_size=1, max_size=3),
)
def test_a_usual_body_is_accepted_or_refused_as_drfs_fields_decide(head, lines):
    body = {**head, "lines": lines}
    serializer = PrecheckRequestSerializer(data=body)
    ok = serializer.is_valid()
    expected = _drf(PrecheckRequestSerializer, body)
    assert ok == (expected is not None)
    if ok:
        assert dict(serializer.validated_data) == expected
    else:
        assert serializer.errors  # DRF's own wording and codes (the fast path never words an error)


def test_every_field_has_a_fast_reader_and_the_usual_claim_takes_the_fast_path():
    """A field added to the request without a fast reader would silently send every claim
    through DRF's fields again: the readers cover the declared fields exactly."""
    claim = {
        "home_province": "510000",
        "date_of_service": "2090-01-02",
        "scheme": "employee",
        "setting": "inpatient",
        "registered": False,
        "diagnoses": ["K35.800"],
        "lines": [{"line_no": 1, "code": "001102000010000", "quantity": 2, "amount_fen": 1_000}],
    }
    for serializer_class, extra in ((PrecheckRequestSerializer, {}), (SimulationRequestSerializer, {"destination_province": "310000"})):
        assert set(serializer_class.fast_fields) == set(serializer_class._declared_fields)
        body = {**claim, **extra}
        assert serializer_class(data=body).fast_validated(body) == _drf(serializer_class, body)
        assert serializer_class(data=body).fast_validated(body) is not None


@pytest.mark.django_db
def test_the_policy_read_from_the_statement_answers_what_the_model_row_says(rules_release, home_policy):
    """The claim reads its home policy from the statement's JSON, not as a model instance: the
    terms and the answer's summary are the policy row's (policy_summary of the model)."""
    from apps.benefits.adjudication import policy_summary
    from apps.benefits.models import BenefitPolicy

    answer = adjudicate(rules_claim(line(DRUG_A["code"], 1_000)))
    row = BenefitPolicy.objects.select_related("province").get(pk=home_policy.pk)
    assert answer.policy == policy_summary(row)

"""DRG for out-of-town inpatient care: versioned tables published by two people, immutable once
published, and the pre-check's DRG block where the pooling area pays by DRG on that date."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from apps.benefits import services, sql
from apps.benefits.adjudication import adjudicate
from apps.benefits.models import DrgAreaRate, DrgGroup, DrgVersion
from apps.benefits.selectors import drg_terms
from apps.core.bulk import BulkFileRejected
from apps.core.errors import Conflict, Forbidden, ValidationFailed
from apps.core.roles import Role
from tests.factories import staff

from .conftest import DRUG_A, DRUG_C, JAN_2025, SICHUAN
from .rules import (
    DRG_FROM,
    OTHER_AREA_HOSPITAL,
    csv_file,
    line,
    rules_claim,
)

pytestmark = pytest.mark.django_db
GROUPS = "code,name,weight\nGB21,胃切除术伴严重并发症,1.5\n"
RATES = "area_code,base_rate_fen,out_of_town_from\n310100,1000000,2025-07-01\n"


def _claim(**overrides: Any) -> Any:
    lines = overrides.pop("lines", (line(DRUG_A["code"], 10_000, line_no=1), line(DRUG_C["code"], 2_000, line_no=2)))
    return rules_claim(*lines, **{"drg_group": "GB21", **overrides})


# --- the pre-check --------------------------------------------------------------------------------


def test_a_drg_area_pays_weight_times_base_rate_and_the_fund_the_rest_after_the_patient_share(rules_release, home_policy, drg_table):
    result = adjudicate(_claim())
    # item level: 甲 10,000 → patient 1,000; 丙 2,000 → patient 2,000
    assert result.drg is not None
    assert {k: result.drg[k] for k in ("group", "weight", "base_rate_fen", "hospital_payment_fen", "fund_payment_fen")} == {
        "group": "GB21",
        "weight": "1.5000",
        "base_rate_fen": 1_000_000,
        "hospital_payment_fen": 1_500_000,
        "fund_payment_fen": 1_497_000,
    }


def test_the_patient_share_under_drg_is_the_item_level_share_from_home_benefits(rules_release, home_policy, drg_table):
    result = adjudicate(_claim())
    assert result.totals["patient_fen"] + result.drg["fund_payment_fen"] == result.drg["hospital_payment_fen"]  # type: ignore[index]


def test_a_non_drg_area_on_the_same_date_is_decided_item_by_item(rules_release, home_policy, drg_table):
    result = adjudicate(_claim(hospital_code=OTHER_AREA_HOSPITAL, drg_payment=True))
    assert (result.drg, [w["code"] for w in result.warnings]) == (None, ["drg_payment_not_adjudicated"])


def test_the_day_before_the_area_pays_by_drg_there_is_no_drg_block(rules_release, home_policy, drg_table):
    assert adjudicate(_claim(date_of_service=DRG_FROM - dt.timedelta(days=1))).drg is None


def test_the_day_the_area_starts_paying_by_drg_there_is_a_drg_block(rules_release, home_policy, drg_table):
    assert adjudicate(_claim(date_of_service=DRG_FROM)).drg is not None


def test_a_claim_at_home_is_not_an_out_of_town_drg_claim(rules_release, home_policy, drg_table):
    assert adjudicate(_claim(destination_province=SICHUAN)).drg is None


def test_an_outpatient_claim_is_not_paid_by_drg(rules_release, drg_table, sc_maker, sc_checker):
    from .conftest import approved_policy

    approved_policy(SICHUAN, sc_maker, sc_checker, setting="outpatient")
    assert adjudicate(_claim(setting="outpatient")).drg is None


def test_a_group_missing_from_the_table_is_a_warning(rules_release, home_policy, drg_table):
    result = adjudicate(_claim(drg_group="ZZ99"))
    assert (result.drg, [w["code"] for w in result.warnings]) == (None, ["drg_group_unknown"])


def test_the_explicit_pooling_area_decides_over_the_hospital_code(rules_release, home_policy, drg_table):
    assert adjudicate(_claim(hospital_code=OTHER_AREA_HOSPITAL, pooling_area="310100")).drg is not None


def test_the_fund_never_pays_below_zero_when_the_patient_share_exceeds_the_drg_payment(rules_release, home_policy, drg_table):
    result = adjudicate(_claim(drg_group="ES31", lines=(line(DRUG_C["code"], 900_000),)))  # ES31: 0.8333 × 1,000,000 = 833,300
    assert (result.drg["hospital_payment_fen"], result.drg["fund_payment_fen"]) == (833_300, 0)  # type: ignore[index]


def test_a_draft_table_does_not_pay(rules_release, home_policy, catalog_admin):
    version = services.drg_version_create(user=catalog_admin, label="draft-only", effective_from=JAN_2025)
    services.drg_groups_import(version=version, user=catalog_admin, stream=csv_file(GROUPS))
    services.drg_area_rates_import(version=version, user=catalog_admin, stream=csv_file(RATES))
    assert adjudicate(_claim()).drg is None


# --- what reconciliation reads ---------------------------------------------------------------------


def test_the_sql_fragment_agrees_with_the_selector(drg_table):
    def fragment(day: dt.date, area: str, group: str) -> int | None:
        with connection.cursor() as cursor:
            fragment_sql = sql.drg_hospital_payment_fen(on_date="%(day)s::date", area_code="%(area)s", group="%(group)s")
            cursor.execute(f"SELECT {fragment_sql}", {"day": day, "area": area, "group": group})
            return cursor.fetchone()[0]

    cases = [
        (DRG_FROM, "310100", "GB21"),
        (DRG_FROM, "310100", "ES31"),
        (DRG_FROM - dt.timedelta(days=1), "310100", "GB21"),
        (DRG_FROM, "310200", "GB21"),
    ]
    expected = [1_500_000, 833_300, None, None]
    selector = [t.hospital_payment_fen if (t := drg_terms(on_date=d, area_code=a, group=g)) else None for d, a, g in cases]
    assert [fragment(*c) for c in cases] == selector == expected


# --- the table's workflow ------------------------------------------------------------------------


@pytest.fixture
def filled(catalog_admin: Any) -> DrgVersion:
    version = services.drg_version_create(user=catalog_admin, label="CHS-DRG-2026", effective_from=dt.date(2026, 1, 1))
    services.drg_groups_import(version=version, user=catalog_admin, stream=csv_file(GROUPS))
    services.drg_area_rates_import(version=version, user=catalog_admin, stream=csv_file(RATES))
    return version


def test_a_table_goes_draft_review_approved_published(filled, catalog_admin, reviewer):
    services.drg_version_submit(version=filled, user=catalog_admin)
    services.drg_version_approve(version=filled, user=reviewer)
    published = services.drg_version_publish(version=filled, user=catalog_admin)
    assert (published.status, published.approved_by, published.groups.count(), published.area_rates.count()) == (
        "published",
        reviewer,
        1,
        1,
    )


def test_someone_who_edited_the_table_cannot_approve_it(filled, catalog_admin):
    editor = staff(Role.CATALOG_REVIEWER, username="drg-editor-reviewer")
    filled.editor_ids = [*filled.editor_ids, editor.pk]  # as if she had imported a file (the role check comes after)
    filled.save(update_fields=["editor_ids"])
    services.drg_version_submit(version=filled, user=catalog_admin)
    with pytest.raises(Conflict) as err:
        services.drg_version_approve(version=filled, user=editor)
    assert err.value.code == "same_user_cannot_approve"


def test_the_submitter_cannot_approve_even_as_a_superuser(filled, catalog_admin, django_user_model):
    boss = django_user_model.objects.create_superuser("drg-boss", password="x-long-password-x")
    services.drg_groups_import(version=filled, user=boss, stream=csv_file(GROUPS))
    services.drg_version_submit(version=filled, user=catalog_admin)
    with pytest.raises(Conflict):
        services.drg_version_approve(version=filled, user=boss)


def test_a_catalog_administrator_is_not_a_reviewer(filled, catalog_admin):
    services.drg_version_submit(version=filled, user=catalog_admin)
    other_admin = staff(Role.CATALOG_ADMIN, username="drg-other-admin")
    with pytest.raises(Forbidden):
        services.drg_version_approve(version=filled, user=other_admin)


def test_the_database_refuses_an_approver_who_edited_the_table(filled, catalog_admin, reviewer):
    services.drg_version_submit(version=filled, user=catalog_admin)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE benefits_drgversion SET editor_ids = editor_ids || %s::bigint, approved_by_id = %s, status = 'approved' WHERE id = %s",
            [reviewer.pk, reviewer.pk, filled.pk],
        )


def test_the_database_never_forgets_an_editor(filled):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE benefits_drgversion SET editor_ids = '{}' WHERE id = %s", [filled.pk])


def test_a_published_table_is_immutable_under_raw_sql(drg_table):
    statements = [
        ("UPDATE benefits_drgversion SET note = 'changed' WHERE id = %s", [drg_table.pk]),
        ("UPDATE benefits_drggroup SET weight = 9 WHERE version_id = %s", [drg_table.pk]),
        ("UPDATE benefits_drgarearate SET base_rate_fen = 1 WHERE version_id = %s", [drg_table.pk]),
        ("INSERT INTO benefits_drggroup (version_id, code, name, weight) VALUES (%s, 'ZZ11', 'x', 1)", [drg_table.pk]),
        ("DELETE FROM benefits_drgarearate WHERE version_id = %s", [drg_table.pk]),
    ]
    refused = 0
    for statement, params in statements:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, params)
        except DatabaseError:
            refused += 1
    assert refused == len(statements)


def test_rows_of_a_table_in_review_cannot_change_either(filled, catalog_admin):
    services.drg_version_submit(version=filled, user=catalog_admin)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE benefits_drggroup SET weight = 9 WHERE version_id = %s", [filled.pk])


def test_importing_into_a_table_in_review_is_a_conflict(filled, catalog_admin):
    services.drg_version_submit(version=filled, user=catalog_admin)
    with pytest.raises(Conflict) as err:
        services.drg_groups_import(version=filled, user=catalog_admin, stream=csv_file(GROUPS))
    assert err.value.code == "drg_version_not_draft"


def test_a_table_without_area_rates_cannot_be_submitted(catalog_admin):
    version = services.drg_version_create(user=catalog_admin, label="groups-only", effective_from=dt.date(2026, 1, 1))
    services.drg_groups_import(version=version, user=catalog_admin, stream=csv_file(GROUPS))
    with pytest.raises(ValidationFailed) as err:
        services.drg_version_submit(version=version, user=catalog_admin)
    assert err.value.code == "drg_version_incomplete"


def test_a_rejection_sends_the_table_back_to_draft_with_its_reason(filled, catalog_admin, reviewer):
    services.drg_version_submit(version=filled, user=catalog_admin)
    rejected = services.drg_version_reject(version=filled, user=reviewer, reason="上海基准费率待确认")
    assert (rejected.status, rejected.rejection_reason) == ("draft", "上海基准费率待确认")


def test_a_new_table_based_on_a_published_one_copies_groups_and_rates_with_history(drg_table, catalog_admin):
    copy = services.drg_version_create(user=catalog_admin, label="CHS-DRG-2026b", effective_from=dt.date(2026, 1, 1), based_on=drg_table)
    copied = (copy.groups.count(), copy.area_rates.count(), DrgGroup.history.filter(version_id=copy.pk, history_type="+").count())
    assert copied == (2, 1, 2)


def test_a_bad_groups_file_lists_every_bad_row_and_changes_nothing(filled, catalog_admin):
    bad = "code,name,weight\nGB21,好,1.2\ngb2,短,1\nGB23,,1\nGB24,负,-1\nGB21,重复,1\n"
    with pytest.raises(BulkFileRejected) as err:
        services.drg_groups_import(version=filled, user=catalog_admin, stream=io.BytesIO(bad.encode()))
    found = [(e["line"], e["column"], e["code"]) for e in err.value.errors]
    assert (found, list(filled.groups.values_list("weight", flat=True))) == (
        [(3, "code", "code_format"), (4, "name", "missing_field"), (5, "weight", "invalid"), (6, "code", "duplicate_code")],
        [Decimal("1.5000")],
    )


def test_a_groups_header_naming_a_column_twice_or_lacking_one_is_refused_on_line_1(filled, catalog_admin):
    bad = "code,name,name,note\nGB21,好,好,x\n"
    with pytest.raises(BulkFileRejected) as err:
        services.drg_groups_import(version=filled, user=catalog_admin, stream=io.BytesIO(bad.encode()))
    found = [(e["line"], e["column"], e["code"]) for e in err.value.errors]
    assert (found, filled.groups.count()) == ([(1, "name", "duplicate_column"), (1, "weight", "missing_column")], 1)


def test_a_bad_area_rates_file_names_the_row_and_column(filled, catalog_admin):
    bad = "area_code,base_rate_fen,out_of_town_from\n310000,1000,2025-01-01\n310100,1.5,2025-01-01\n310100,100,2025-13-01\n"
    with pytest.raises(BulkFileRejected) as err:
        services.drg_area_rates_import(version=filled, user=catalog_admin, stream=io.BytesIO(bad.encode()))
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(2, "code_format"), (3, "not_fen"), (4, "date_format")]


def test_province_staff_cannot_create_drg_tables(db):
    with pytest.raises(Forbidden):
        services.drg_version_create(user=staff(Role.PROVINCE_STAFF, SICHUAN), label="x", effective_from=JAN_2025)


def test_area_rates_of_a_gbk_file_are_read(filled, catalog_admin):
    text = "area_code,base_rate_fen,out_of_town_from\n310100,1200000,2025-07-01\n"
    assert services.drg_area_rates_import(version=filled, user=catalog_admin, stream=io.BytesIO(text.encode("gb18030"))) == 1
    assert DrgAreaRate.objects.get(version=filled).base_rate_fen == 1_200_000

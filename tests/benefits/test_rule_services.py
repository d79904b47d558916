"""The services behind the pre-check's rules: listed diseases and policy disease terms, daily
doses, provincial price schedules and the ICD-9-CM-3 reference — who may do what, history,
and the PostgreSQL guards under raw SQL."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from apps.benefits import services
from apps.benefits.models import DailyDose, Disease, PolicyDiseaseTerm, ProcedureCode, ServicePrice
from apps.benefits.selectors import province_by_code, service_prices
from apps.core.bulk import BulkFileRejected
from apps.core.errors import Conflict, Forbidden, ValidationFailed

from .conftest import HOME_POLICY, SHANGHAI, SICHUAN
from .rules import DOSED_3_DAYS, SERVICE, csv_file

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parent / "data" / "icd9cm3_sample.csv"


# --- listed diseases ------------------------------------------------------------------------------


def test_the_five_nationally_settled_diseases_are_loaded_from_the_data_file(db):
    national = Disease.objects.filter(province__isnull=True, cross_province=True).order_by("code")
    assert list(national.values_list("code", flat=True)) == [
        "diabetes",
        "hypertension",
        "malignant_tumour_outpatient",
        "transplant_anti_rejection",
        "uraemia_dialysis",
    ]


def test_a_province_lists_its_own_disease_with_history(sc_maker):
    disease = services.disease_save(
        user=sc_maker, province=province_by_code(SICHUAN), code="COPD", name="慢阻肺", icd10_prefixes="J44, J43.9"
    )
    assert (disease.code, disease.icd10_prefixes, disease.history.first().history_user) == ("copd", ["J44", "J43.9"], sc_maker)


def test_staff_of_another_province_cannot_list_a_disease_for_it(sh_staff):
    with pytest.raises(Forbidden) as err:
        services.disease_save(user=sh_staff, province=province_by_code(SICHUAN), code="copd", name="慢阻肺", icd10_prefixes="J44")
    assert err.value.code == "wrong_province"


def test_a_province_cannot_take_a_national_diseases_code(sc_maker):
    with pytest.raises(ValidationFailed):
        services.disease_save(user=sc_maker, province=province_by_code(SICHUAN), code="hypertension", name="高血压", icd10_prefixes="I10")


@pytest.mark.parametrize("prefixes", ["", "高血压", "I10;高血压", "10"])
def test_a_disease_needs_icd10_prefixes(sc_maker, prefixes):
    with pytest.raises(ValidationFailed):
        services.disease_save(user=sc_maker, province=province_by_code(SICHUAN), code="x", name="x", icd10_prefixes=prefixes)


# --- policy disease terms --------------------------------------------------------------------------


@pytest.fixture
def chronic_draft(sc_maker: Any) -> Any:
    return services.policy_create_draft(
        user=sc_maker, province=province_by_code(SICHUAN), **{**HOME_POLICY, "setting": "chronic_outpatient"}
    )


def test_the_author_sets_the_terms_and_each_has_history(chronic_draft, sc_maker):
    services.policy_disease_terms_set(policy=chronic_draft, user=sc_maker, terms=[{"disease": "diabetes", "ratio": "0.75"}])
    term = PolicyDiseaseTerm.objects.get(policy=chronic_draft)
    assert (term.disease.code, term.ratio, term.history.first().history_user) == ("diabetes", Decimal("0.7500"), sc_maker)


def test_someone_else_of_the_province_cannot_set_the_terms(chronic_draft, sc_checker):
    with pytest.raises(Forbidden):
        services.policy_disease_terms_set(policy=chronic_draft, user=sc_checker, terms=[{"disease": "diabetes", "ratio": "0.75"}])


def test_terms_of_an_approved_policy_cannot_change(chronic_draft, sc_maker, sc_checker):
    services.policy_submit(policy=chronic_draft, user=chronic_draft.created_by)
    services.policy_approve(policy=chronic_draft, user=sc_checker)
    with pytest.raises(Conflict) as err:
        services.policy_disease_terms_set(policy=chronic_draft, user=sc_maker, terms=[])
    assert err.value.code == "policy_not_draft"


def test_the_database_refuses_terms_for_an_approved_policy(chronic_draft, sc_maker, sc_checker):
    services.policy_disease_terms_set(policy=chronic_draft, user=sc_maker, terms=[{"disease": "diabetes", "ratio": "0.75"}])
    services.policy_submit(policy=chronic_draft, user=chronic_draft.created_by)
    services.policy_approve(policy=chronic_draft, user=sc_checker)
    hypertension = Disease.objects.get(code="hypertension", province__isnull=True)
    statements = [
        ("UPDATE benefits_policydiseaseterm SET ratio = 1 WHERE policy_id = %s", [chronic_draft.pk]),
        ("DELETE FROM benefits_policydiseaseterm WHERE policy_id = %s", [chronic_draft.pk]),
        ("INSERT INTO benefits_policydiseaseterm (policy_id, disease_id, ratio) VALUES (%s, %s, 1)", [chronic_draft.pk, hypertension.pk]),
    ]
    refused = 0
    for statement, params in statements:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement, params)
        except DatabaseError:
            refused += 1
    assert refused == 3


def test_a_chronic_policy_lists_only_chronic_or_special_diseases(chronic_draft, sc_maker):
    services.disease_save(
        user=sc_maker, province=province_by_code(SICHUAN), code="lung_cancer", name="肺癌", icd10_prefixes="C34", kind="critical"
    )
    with pytest.raises(ValidationFailed):
        services.policy_disease_terms_set(policy=chronic_draft, user=sc_maker, terms=[{"disease": "lung_cancer", "ratio": "0.9"}])


def test_another_provinces_disease_cannot_be_listed(chronic_draft, sc_maker, sh_staff):
    services.disease_save(user=sh_staff, province=province_by_code(SHANGHAI), code="sh_only", name="上海病种", icd10_prefixes="J44")
    with pytest.raises(ValidationFailed) as err:
        services.policy_disease_terms_set(policy=chronic_draft, user=sc_maker, terms=[{"disease": "sh_only"}])
    assert err.value.errors[0]["code"] == "unknown_disease"


@pytest.mark.parametrize(
    "term", [{"disease": "diabetes", "ratio": "1.5"}, {"disease": "diabetes", "deductible_fen": -1}, {"disease": "diabetes", "x": 1}]
)
def test_bad_term_values_are_refused(chronic_draft, sc_maker, term):
    with pytest.raises(ValidationFailed):
        services.policy_disease_terms_set(policy=chronic_draft, user=sc_maker, terms=[term])


# --- daily doses ----------------------------------------------------------------------------------


def test_a_daily_dose_is_approved_by_a_reviewer_who_did_not_propose_it(catalog_admin, reviewer):
    dose = services.daily_dose_propose(user=catalog_admin, code=DOSED_3_DAYS["code"], units_per_day="2")
    assert services.daily_dose_approve(dose=dose, user=reviewer).status == "approved"


def test_the_proposer_cannot_approve_her_own_dose(django_user_model):
    boss = django_user_model.objects.create_superuser("dose-boss", password="x-long-password-x")
    dose = services.daily_dose_propose(user=boss, code=DOSED_3_DAYS["code"], units_per_day="2")
    with pytest.raises(Conflict) as err:
        services.daily_dose_approve(dose=dose, user=boss)
    assert err.value.code == "same_user_cannot_approve"


def test_the_database_refuses_a_dose_approved_by_its_proposer(catalog_admin):
    dose = services.daily_dose_propose(user=catalog_admin, code=DOSED_3_DAYS["code"], units_per_day="2")
    with pytest.raises(IntegrityError), transaction.atomic():
        DailyDose.objects.filter(pk=dose.pk).update(status="approved", approved_by=catalog_admin)


def test_a_new_approved_dose_supersedes_the_old_one(catalog_admin, reviewer):
    first = services.daily_dose_approve(
        dose=services.daily_dose_propose(user=catalog_admin, code=DOSED_3_DAYS["code"], units_per_day="1"), user=reviewer
    )
    services.daily_dose_approve(
        dose=services.daily_dose_propose(user=catalog_admin, code=DOSED_3_DAYS["code"], units_per_day="2"), user=reviewer
    )
    first.refresh_from_db()
    assert (first.status, DailyDose.objects.get(status="approved").units_per_day) == ("superseded", Decimal("2.0000"))


def test_an_approved_dose_never_changes_under_raw_sql(catalog_admin, reviewer):
    dose = services.daily_dose_approve(
        dose=services.daily_dose_propose(user=catalog_admin, code=DOSED_3_DAYS["code"], units_per_day="1"), user=reviewer
    )
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE benefits_dailydose SET units_per_day = 10 WHERE id = %s", [dose.pk])


@pytest.mark.parametrize("units", ["0", "-1", "0.00001", "abc", "NaN"])
def test_a_daily_dose_is_a_positive_number(catalog_admin, units):
    with pytest.raises(ValidationFailed):
        services.daily_dose_propose(user=catalog_admin, code=DOSED_3_DAYS["code"], units_per_day=units)


def test_province_staff_cannot_propose_daily_doses(sc_maker):
    with pytest.raises(Forbidden):
        services.daily_dose_propose(user=sc_maker, code=DOSED_3_DAYS["code"], units_per_day="1")


# --- provincial price schedules ---------------------------------------------------------------------

JULY, AUGUST = dt.date(2025, 7, 1), dt.date(2025, 8, 1)


def _import(user: Any, province: str, day: dt.date, text: str) -> dict[str, int]:
    return services.service_prices_import(user=user, province=province_by_code(province), effective_from=day, stream=csv_file(text))


def test_a_new_schedule_closes_the_open_price_where_it_starts(sc_maker):
    _import(sc_maker, SICHUAN, JULY, f"code,price_fen\n{SERVICE['code']},1500\n")
    result = _import(sc_maker, SICHUAN, AUGUST, f"code,price_fen\n{SERVICE['code']},1800\n")
    seen = [
        service_prices(province_codes=[SICHUAN], codes=[SERVICE["code"]], on_date=day)[(SICHUAN, SERVICE["code"])]
        for day in (AUGUST - dt.timedelta(days=1), AUGUST)
    ]
    assert (result, seen) == ({"rows": 1, "closed": 1}, [1500, 1800])


def test_a_price_starting_on_or_after_the_schedule_is_a_row_error(sc_maker):
    _import(sc_maker, SICHUAN, AUGUST, f"code,price_fen\n{SERVICE['code']},1800\n")
    with pytest.raises(BulkFileRejected) as err:
        _import(sc_maker, SICHUAN, JULY, f"code,price_fen\n{SERVICE['code']},1500\n")
    assert [(e["line"], e["code"]) for e in err.value.errors] == [(2, "price_overlap")]


def test_a_bad_price_file_lists_every_bad_row_and_imports_nothing(sc_maker):
    text = f"code,price_fen\n{SERVICE['code']},1500\nXA01,1\n{SERVICE['code']}-31,12.5\n{SERVICE['code']},1600\n"
    with pytest.raises(BulkFileRejected) as err:
        _import(sc_maker, SICHUAN, JULY, text)
    assert ([(e["line"], e["code"]) for e in err.value.errors], ServicePrice.objects.count()) == (
        [(3, "code_format"), (4, "not_fen"), (5, "duplicate_code")],
        0,
    )


def test_staff_of_another_province_cannot_import_its_prices(sh_staff):
    with pytest.raises(Forbidden):
        _import(sh_staff, SICHUAN, JULY, f"code,price_fen\n{SERVICE['code']},1500\n")


def test_the_database_refuses_overlapping_prices(sc_maker):
    _import(sc_maker, SICHUAN, JULY, f"code,price_fen\n{SERVICE['code']},1500\n")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServicePrice.objects.create(province=province_by_code(SICHUAN), code=SERVICE["code"], price_fen=1, effective_from=AUGUST)


def test_imported_prices_have_history_rows(sc_maker):
    _import(sc_maker, SICHUAN, JULY, f"code,price_fen\n{SERVICE['code']},1500\n")
    assert ServicePrice.history.filter(history_type="+", history_user=sc_maker).count() == 1


# --- ICD-9-CM-3 reference -------------------------------------------------------------------------


def test_the_icd9cm3_edition_is_loaded_with_the_command(db):
    out = io.StringIO()
    call_command("import_reference", "icd9cm3", str(SAMPLE), stdout=out)
    row = ProcedureCode.objects.get(code="47.0900x001")
    assert (out.getvalue().strip(), row.name, row.detail_code) == ("icd9cm3: 6 rows (6 new, 0 updated)", "开腹阑尾切除术", "47.09")


def test_loading_the_edition_twice_updates_rows(db):
    call_command("import_reference", "icd9cm3", str(SAMPLE), stdout=io.StringIO())
    out = io.StringIO()
    call_command("import_reference", "icd9cm3", str(SAMPLE), stdout=out)
    assert (out.getvalue().strip(), ProcedureCode.objects.count()) == ("icd9cm3: 6 rows (0 new, 6 updated)", 6)


def test_a_bad_procedure_row_is_named_and_nothing_is_loaded(tmp_path):
    good = SAMPLE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([good[0], good[1].replace("36.0600", "36.06A0"), good[2]]) + "\n", encoding="gb18030")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_reference", "icd9cm3", str(path), stdout=io.StringIO(), stderr=err)
    assert ("line 2 column code: code_format" in err.getvalue(), ProcedureCode.objects.count()) == (True, 0)


def test_procedure_codes_are_normalised_like_the_claims_codes(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(
        "医保版2.0,47-47,消化系统手术,47,阑尾手术,47.0,阑尾切除术,47.09,其他阑尾切除术,４７.０９００X００２, 阑尾切除术 \n",
        encoding="utf-8",
    )
    call_command("import_reference", "icd9cm3", str(path), stdout=io.StringIO())
    assert list(ProcedureCode.objects.values_list("code", "name")) == [("47.0900x002", "阑尾切除术")]


def test_a_catalog_administrator_cannot_list_a_provincial_disease(catalog_admin):
    with pytest.raises(Forbidden):
        services.disease_save(user=catalog_admin, province=province_by_code(SICHUAN), code="x", name="x", icd10_prefixes="J44")

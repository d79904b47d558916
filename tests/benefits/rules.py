"""Fixtures for the pre-check's rules (issue 20): a release with restricted items, daily doses,
listed-disease policies, a published DRG table and price schedules, built through the services."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest

from apps.benefits import services
from apps.benefits.adjudication import Claim, ClaimLine
from apps.benefits.models import BenefitPolicy, DrgVersion
from apps.benefits.selectors import province_by_code
from tests.factories import published_release

from .conftest import DRUG_A, DRUG_B, DRUG_C, HOME_POLICY, JAN_2025, LOCAL_CODE, SHANGHAI, SICHUAN

DAY = dt.date(2025, 7, 15)
DRG_FROM = dt.date(2025, 7, 1)
DRG_AREA_HOSPITAL = "H31010100001"  # pooling area 310100: pays out-of-town inpatient claims by DRG from DRG_FROM
OTHER_AREA_HOSPITAL = "H31020000001"  # pooling area 310200: no DRG rate


def item(code: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "name": f"限制项目 {code[-5:]}", "category": "01", **fields}


INDICATED = item("XA10BAA001A001010100001", restriction_indication="E11;K35.8")
FREE_TEXT_INDICATION = item("XA10BAA001A001010100002", restriction_indication="限二线及以上治疗")
MAX_3_DAYS = item("XA10BAA001A001010100003", restriction_max_days=3)
DOSED_3_DAYS = item("XA10BAA001A001010100004", restriction_max_days=3)  # a daily dose of 1 unit is approved
STANDARD = item("XA10BAA001A001010100005", payment_standard_fen=1_000)
# The issue's report: 30 units of a drug restricted to 3 days, 50,000 fen against a standard of 1,000.
ISSUE_DRUG = item("XA10BAA001A001010100006", restriction_max_days=3, payment_standard_fen=1_000)
STANDARD_B = item("XA10BAA001A001010100007", category="02", self_pay_ratio="0.1000", payment_standard_fen=1_000)
SERVICE = item("310100001000001", name="住院诊查费")
RULE_ITEMS = [DRUG_A, DRUG_B, DRUG_C, INDICATED, FREE_TEXT_INDICATION, MAX_3_DAYS, DOSED_3_DAYS, STANDARD, ISSUE_DRUG, STANDARD_B, SERVICE]


@pytest.fixture
def rules_release(catalog_admin: Any, reviewer: Any) -> Any:
    release = published_release(label="2025.R", effective_from=JAN_2025, admin=catalog_admin, reviewer=reviewer, items=RULE_ITEMS)
    for code in (DOSED_3_DAYS["code"], ISSUE_DRUG["code"]):
        dose = services.daily_dose_propose(user=catalog_admin, code=code, units_per_day=Decimal(1), note="每日1片")
        services.daily_dose_approve(dose=dose, user=reviewer)
    return release


def csv_file(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


@pytest.fixture
def drg_table(catalog_admin: Any, reviewer: Any) -> DrgVersion:
    """Published from 2025-01-01: GB21 weight 1.5; area 310100 at 1,000,000 fen from DRG_FROM."""
    version = services.drg_version_create(user=catalog_admin, label="CHS-DRG-2025", effective_from=JAN_2025)
    services.drg_groups_import(
        version=version, user=catalog_admin, stream=csv_file("code,name,weight\nGB21,胃切除术伴严重并发症,1.5\nES31,呼吸系统感染,0.8333\n")
    )
    services.drg_area_rates_import(
        version=version, user=catalog_admin, stream=csv_file(f"area_code,base_rate_fen,out_of_town_from\n310100,1000000,{DRG_FROM}\n")
    )
    services.drg_version_submit(version=version, user=catalog_admin)
    services.drg_version_approve(version=version, user=reviewer)
    return services.drg_version_publish(version=version, user=catalog_admin)


@pytest.fixture
def critical_term(sc_maker: Any, sc_checker: Any, db: Any) -> BenefitPolicy:
    """Sichuan's inpatient policy (as HOME_POLICY) paying lung cancer (C34) at 0.95."""
    services.disease_save(
        user=sc_maker, province=province_by_code(SICHUAN), code="lung_cancer", name="肺癌", icd10_prefixes="C34", kind="critical"
    )
    policy = services.policy_create_draft(user=sc_maker, province=province_by_code(SICHUAN), **HOME_POLICY)
    services.policy_disease_terms_set(policy=policy, user=sc_maker, terms=[{"disease": "lung_cancer", "ratio": Decimal("0.95")}])
    services.policy_submit(policy=policy, user=policy.created_by)
    return services.policy_approve(policy=policy, user=sc_checker)


@pytest.fixture
def chronic_policy(sc_maker: Any, sc_checker: Any, db: Any) -> BenefitPolicy:
    """Sichuan's chronic outpatient policy: hypertension (national, settled across provinces) at
    0.7 with no deductible and a 5,000-yuan cap; its own COPD (J44, not settled across provinces) at 0.6."""
    services.disease_save(user=sc_maker, province=province_by_code(SICHUAN), code="copd", name="慢性阻塞性肺疾病", icd10_prefixes="J44")
    policy = services.policy_create_draft(
        user=sc_maker, province=province_by_code(SICHUAN), **{**HOME_POLICY, "setting": "chronic_outpatient", "deductible_fen": 50_000}
    )
    services.policy_disease_terms_set(
        policy=policy,
        user=sc_maker,
        terms=[
            {"disease": "hypertension", "ratio": Decimal("0.7"), "deductible_fen": 0, "annual_cap_fen": 500_000},
            {"disease": "copd", "ratio": Decimal("0.6"), "deductible_fen": 0},
        ],
    )
    services.policy_submit(policy=policy, user=policy.created_by)
    return services.policy_approve(policy=policy, user=sc_checker)


@pytest.fixture
def lapsed_local_item(sh_staff: Any) -> Any:
    return services.local_item_save(
        user=sh_staff,
        province=province_by_code(SHANGHAI),
        code=LOCAL_CODE,
        name="上海地方增补诊疗项目",
        category="02",
        effective_from=JAN_2025,
        sunset_date=dt.date(2025, 7, 1),
        national_code=SERVICE["code"],
    )


def rules_claim(*lines: ClaimLine, **overrides: Any) -> Claim:
    base: dict[str, Any] = {
        "home_province": SICHUAN,
        "destination_province": SHANGHAI,
        "date_of_service": DAY,
        "scheme": "employee",
        "setting": "inpatient",
        "hospital_code": DRG_AREA_HOSPITAL,
        "hospital_level": "3A",
        "registered": True,
        "deductible_used_fen": 10_000,  # met unless a case says otherwise
        "lines": lines,
    }
    return Claim(**{**base, **overrides})


def line(code: str, amount: int, *, quantity: str = "1", days: int | None = None, line_no: int = 1) -> ClaimLine:
    return ClaimLine(line_no=line_no, code=code, amount_fen=amount, quantity=Decimal(quantity), days=days)

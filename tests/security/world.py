"""One world for the access matrix, built through the services and the API, with every caller
holding real credentials: staff tokens from ``token_issue``, hospital keys from ``api_key_issue``
and browser sessions logged in through the login page with its CSRF token.

Two provinces, A (Shanghai) and B (Sichuan), each with a hospital (key, webhook endpoint, notice
deliveries), provincial staff, a finance maker and checker, funded accounts, a posted and a
proposed transfer, a draft and a submitted benefit policy, and a settlement import job; a national
run reconciles A with Guangdong and B with Beijing. Every planted value of a province is
distinctive (codes, names, amounts in fen and yuan, ids moved into their own ranges, memos,
file names): ``World.markers[A]`` / ``[B]`` list them, and no answer to a caller of one province
may contain the other's. Requests target A's objects (``tests/security/endpoints.py``)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from apps.benefits import services as benefits
from apps.benefits.models import Province
from apps.benefits.selectors import province_by_code
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.jobs import job_run
from apps.core.money import format_yuan
from apps.core.roles import Role
from apps.core.services import token_issue
from apps.hospitals import mapping_services
from apps.hospitals import services as hospitals
from apps.hospitals.models import ApiKey, Hospital
from apps.notices.models import NoticeDelivery
from apps.pooling import services as pooling
from apps.pooling.models import FundAccount, Transfer
from apps.reconciliation import services as reconciliation
from tests.factories import draft_release, published_release, staff

A, B = "310000", "510000"  # Shanghai, Sichuan: the two walled provinces
A_PARTNER, B_PARTNER = "440000", "110000"  # Guangdong, Beijing: the other side of each one's claims
PERIOD = "2026-03"
PASSWORD = "correct horse battery staple"

# Callers, in the order of every row of the expected tables.
ANONYMOUS = "anonymous"
HOSPITAL_A, HOSPITAL_B, REVOKED_A = "hospital_a", "hospital_b", "revoked_key_a"
PROVINCE_A, PROVINCE_B = "province_staff_a", "province_staff_b"
MAKER_A, CHECKER_A, MAKER_B, CHECKER_B = "finance_maker_a", "finance_checker_a", "finance_maker_b", "finance_checker_b"
NATIONAL_MAKER, NATIONAL_CHECKER = "national_finance_maker", "national_finance_checker"
AUDITOR, CATALOG_ADMIN, CATALOG_REVIEWER = "auditor", "catalog_admin", "catalog_reviewer"
CALLERS = (
    ANONYMOUS,
    HOSPITAL_A,
    HOSPITAL_B,
    REVOKED_A,
    PROVINCE_A,
    PROVINCE_B,
    MAKER_A,
    CHECKER_A,
    MAKER_B,
    CHECKER_B,
    NATIONAL_MAKER,
    NATIONAL_CHECKER,
    AUDITOR,
    CATALOG_ADMIN,
    CATALOG_REVIEWER,
)
STAFF = {
    PROVINCE_A: (Role.PROVINCE_STAFF, A),
    PROVINCE_B: (Role.PROVINCE_STAFF, B),
    MAKER_A: (Role.FINANCE_MAKER, A),
    CHECKER_A: (Role.FINANCE_CHECKER, A),
    MAKER_B: (Role.FINANCE_MAKER, B),
    CHECKER_B: (Role.FINANCE_CHECKER, B),
    NATIONAL_MAKER: (Role.FINANCE_MAKER, ""),
    NATIONAL_CHECKER: (Role.FINANCE_CHECKER, ""),
    AUDITOR: (Role.AUDITOR, ""),
    CATALOG_ADMIN: (Role.CATALOG_ADMIN, ""),
    CATALOG_REVIEWER: (Role.CATALOG_REVIEWER, ""),
}
# Whose data a caller must never see: callers of A must not see B's markers and the reverse.
PROVINCE_OF = {
    HOSPITAL_A: A,
    PROVINCE_A: A,
    MAKER_A: A,
    CHECKER_A: A,
    HOSPITAL_B: B,
    PROVINCE_B: B,
    MAKER_B: B,
    CHECKER_B: B,
}
OTHER = {A: B, B: A}

# Planted values. Ids are moved into ranges of their own (sequences) so an id in a body is a marker.
PLANT = {
    A: {
        "hospital": ("H31010500123", "上海甲医院"),
        "income_fen": 73_910_051,
        "posted_fen": 1_111_119,
        "proposed_fen": 1_234_567,
        "claim_fund_fen": 2_718_281,
        "deductible_fen": 3_131_313,
        "ids_from": 461_000_000,
        "tag": "7301",
    },
    B: {
        "hospital": ("H51010400456", "四川乙医院"),
        "income_fen": 85_210_093,
        "posted_fen": 2_222_227,
        "proposed_fen": 2_345_678,
        "claim_fund_fen": 4_815_162,
        "deductible_fen": 5_151_515,
        "ids_from": 581_000_000,
        "tag": "8501",
    },
}
# Tables whose rows of a province get ids from that province's range.
ID_TABLES = ("pooling_transfer", "benefits_benefitpolicy", "core_job", "reconciliation_settlementbatch", "notices_webhookendpoint")
SETTLEMENT_HEADER = (
    "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,"
    "release_label,drg_group,total_fen,fund_fen,patient_fen\n"
)


def _money_markers(fen: int) -> list[str]:
    """How an amount shows: fen in JSON and CSV, yuan in pages (with and without thousands commas)."""
    return [str(fen), format_yuan(fen), f"{fen / 100:.2f}"]


def _ids_from(start: int, *tables: str) -> None:
    """The next row of each of ``tables`` (default: all ID_TABLES) gets an id from its range:
    ``start`` + 100,000 × the table's place in ID_TABLES."""
    with connection.cursor() as cursor:
        for offset, table in enumerate(ID_TABLES):
            if not tables or table in tables:
                cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, start + offset * 100_000])


@dataclass
class Caller:
    """One caller's clients: ``api`` authenticates as production would for API calls (Api-Key,
    a staff token), ``browser`` is the session a person gets from the login page."""

    name: str
    api: APIClient
    browser: APIClient
    session_api: APIClient | None = None  # a staff member's browser session calling the API

    def csrf(self, client: APIClient) -> str:
        cookie = client.cookies.get("csrftoken")
        return cookie.value if cookie is not None else ""


@dataclass
class World:
    callers: dict[str, Caller]
    users: dict[str, Any]
    published: CatalogRelease
    draft: CatalogRelease
    item_code: str
    account_a: FundAccount
    national: FundAccount
    transfer_a: Transfer
    policy_a_draft: Any
    policy_a_submitted: Any
    job_a: int
    run: int
    endpoint_a: int
    delivery_a: int
    key_a_prefix: str
    markers: dict[str, list[str]] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    pooling: dict[str, int] = field(default_factory=dict)
    discrepancies: dict[str, int] = field(default_factory=dict)


def _browser() -> APIClient:
    """A browser that has opened the login page (so it holds a CSRF cookie, as any form post needs)."""
    client = APIClient(enforce_csrf_checks=True)
    client.get("/admin/login/")
    return client


def _logged_in(username: str) -> APIClient:
    """A session made the way a person makes one: the login form, with its CSRF token."""
    client = _browser()
    response = client.post(
        "/admin/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"].value, "next": "/staff/"},
    )
    assert response.status_code == 302 and response["Location"] == "/staff/", f"login of {username} failed: {response.status_code}"
    return client


def _key_client(key: str) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def _token_client(user: Any) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user)}")
    return client


def _settlements(rows: list[tuple[str, str, str, str, int]]) -> bytes:
    lines = [
        f"{sid},{home},{dest},{hospital},ph-{sid},2026-03-10,2026.01,,{fund + 500},{fund},500" for sid, home, dest, hospital, fund in rows
    ]
    return (SETTLEMENT_HEADER + "\n".join(lines) + "\n").encode()


def _import_job(*, user: Any, side: str, rows: list[tuple[str, str, str, str, int]], filename: str) -> int:
    """A settlement import queued as the API queues it, then run as the worker runs it."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    job = reconciliation.settlement_import_enqueue(
        period=PERIOD, side=side, upload=SimpleUploadedFile(filename, _settlements(rows), content_type="text/csv"), user=user
    )
    job_run(job.pk)
    return job.pk


def _province_side(province: str, *, maker: Any, checker: Any, staff_user: Any) -> dict[str, Any]:
    """A province's money, policies and settlements, with ids from its own range."""
    plant = PLANT[province]
    tag = plant["tag"]
    _ids_from(plant["ids_from"], "pooling_transfer", "benefits_benefitpolicy", "core_job", "reconciliation_settlementbatch")
    pooling.fund_income_record(
        province_code=province,
        amount_fen=plant["income_fen"],
        proposer=maker,
        approver=checker,
        memo=f"INCOME-{tag}",
        idempotency_key=f"world-income-{province}",
    )
    accounts = FundAccount.objects.select_related("province")
    own = accounts.get(kind=FundAccount.Kind.PROVINCIAL, province__code=province)
    national = accounts.get(kind=FundAccount.Kind.NATIONAL)
    proposed = pooling.transfer_propose(
        from_account=own,
        to_account=national,
        amount_fen=plant["proposed_fen"],
        memo=f"MEMO-PROPOSED-{tag}",
        proposer=maker,
        idempotency_key=f"world-proposed-{province}",
    )
    posted = pooling.transfer_propose(
        from_account=own,
        to_account=national,
        amount_fen=plant["posted_fen"],
        memo=f"MEMO-POSTED-{tag}",
        proposer=maker,
        idempotency_key=f"world-posted-{province}",
    )
    pooling.transfer_approve(transfer=posted, approver=checker)
    policy = {
        "scheme": "employee",
        "setting": "inpatient",
        "effective_from": dt.date(2027, 1, 1),
        "deductible_fen": plant["deductible_fen"],
        "ratio_category_a": "0.9",
        "ratio_category_b": "0.8",
        "annual_cap_fen": 40_000_000,
        "note": f"POLICY-NOTE-{tag}",
    }
    draft_policy = benefits.policy_create_draft(user=staff_user, province=province_by_code(province), **policy)
    submitted_policy = benefits.policy_create_draft(
        user=staff_user, province=province_by_code(province), **{**policy, "setting": "outpatient", "note": f"POLICY-SUBMITTED-{tag}"}
    )
    benefits.policy_submit(policy=submitted_policy, user=staff_user)
    partner = A_PARTNER if province == A else B_PARTNER
    hospital_code = plant["hospital"][0]
    rows = [
        (f"SID-{tag}-1", province, partner, hospital_code, plant["claim_fund_fen"]),
        (f"SID-{tag}-MISSING", province, partner, hospital_code, 999),  # home only: a discrepancy of this pair
        (f"SID-{tag}-GAP", province, partner, hospital_code, 999),  # another, whose write-off A's maker proposes
    ]
    job = _import_job(user=maker, side="home", rows=rows, filename=f"settle-{tag}.csv")
    return {
        "account": own,
        "proposed": proposed,
        "posted": posted,
        "draft_policy": draft_policy,
        "submitted_policy": submitted_policy,
        "job": job,
        "rows": rows,
        "markers": [
            hospital_code,
            plant["hospital"][1],
            f"MEMO-PROPOSED-{tag}",
            f"MEMO-POSTED-{tag}",
            f"INCOME-{tag}",
            f"POLICY-NOTE-{tag}",
            f"POLICY-SUBMITTED-{tag}",
            f"SID-{tag}-1",
            f"SID-{tag}-MISSING",
            f"SID-{tag}-GAP",
            f"settle-{tag}.csv",
            f"hook-{tag}",
            *_money_markers(plant["income_fen"]),
            *_money_markers(plant["income_fen"] - plant["posted_fen"]),  # the provincial balance
            *_money_markers(plant["posted_fen"]),
            *_money_markers(plant["proposed_fen"]),
            *_money_markers(plant["claim_fund_fen"]),
            *_money_markers(plant["deductible_fen"]),
            *(str(plant["ids_from"] + offset * 100_000 + n) for offset in range(len(ID_TABLES)) for n in range(1, 4)),
        ],
    }


def _provincial_pooling(users: dict[str, Any]) -> dict[str, int]:
    """Province A's budget and pending move to unified collection and expenditure, and a national
    risk-adjustment run over A's and B's figures (provincial pooling, issue 19)."""
    from decimal import Decimal

    from apps.benefits.models import PoolingRegion
    from apps.pooling.models import AdjustmentRule

    province_a = Province.objects.get(code=A)
    pooling.region_figures_put(
        province=province_a,
        period="2026-02",
        fund_income_fen=100_000,
        fund_expenditure_fen=80_000,
        active_insured=100,
        retirees=40,
        user=users[MAKER_A],
    )
    pooling.region_figures_put(
        region=PoolingRegion.objects.get(code="510100"),
        period="2026-02",
        fund_income_fen=50_000,
        fund_expenditure_fen=70_000,
        active_insured=100,
        retirees=80,
        user=users[MAKER_B],
    )
    AdjustmentRule.objects.create(province=None, contribution_share=Decimal("0.02"), effective_from=dt.date(2026, 1, 1))
    adjustment_run, _ = pooling.adjustment_run(period="2026-02")
    budget = pooling.budget_save(province=province_a, year=2026, expenditure_fen=10_000, cross_regional_fen=1_000, user=users[MAKER_A])
    change = pooling.unification_propose(province=province_a, user=users[MAKER_A], reason="统收统支")
    return {"adjustment_run": adjustment_run.pk, "budget_a": budget.pk, "unification_a": change.pk}


def build_world() -> World:
    for code, name in ((A, "上海市"), (B, "四川省"), (A_PARTNER, "广东省"), (B_PARTNER, "北京市")):
        Province.objects.get_or_create(code=code, defaults={"name": name})
    pooling.accounts_ensure()
    users = {name: staff(role, province, username=name.replace("_", "-")) for name, (role, province) in STAFF.items()}

    # Hospitals with their keys and a webhook endpoint each (registered over the API with the key).
    keys: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    endpoints: dict[str, int] = {}
    for province, caller in ((A, HOSPITAL_A), (B, HOSPITAL_B)):
        plant = PLANT[province]
        _ids_from(plant["ids_from"], "notices_webhookendpoint")
        hospital = hospitals.hospital_register(code=plant["hospital"][0], name=plant["hospital"][1], province_code=province)
        key_obj, keys[caller] = hospitals.api_key_issue(hospital=hospital)
        prefixes[province] = key_obj.prefix
        if province == A:
            revoked, keys[REVOKED_A] = hospitals.api_key_issue(hospital=hospital, name="old")
            hospitals.api_key_revoke(key=ApiKey.objects.get(pk=revoked.pk))
        response = _key_client(keys[caller]).post(
            "/api/v1/webhooks/endpoints/", {"url": f"http://127.0.0.1:9/hook-{plant['tag']}"}, format="json"
        )
        assert response.status_code == 201, response.content
        endpoints[province] = response.json()["id"]

    # The national catalog: a published release (notices and deliveries to both hospitals) and a draft.
    items = list(generate_items(8, seed=11))
    published = published_release(
        label="2026.01", effective_from=dt.date(2026, 1, 1), admin=users[CATALOG_ADMIN], reviewer=users[CATALOG_REVIEWER], items=items
    )
    draft = draft_release(label="2026.02", effective_from=dt.date(2026, 7, 1), user=users[CATALOG_ADMIN], based_on=published)

    sides = {
        A: _province_side(A, maker=users[MAKER_A], checker=users[CHECKER_A], staff_user=users[PROVINCE_A]),
        B: _province_side(B, maker=users[MAKER_B], checker=users[CHECKER_B], staff_user=users[PROVINCE_B]),
    }
    # The destination side of both pairs, filed nationally, then a national run of the month.
    _ids_from(900_000_000)  # national rows (and whatever the matrix creates) outside both ranges
    destination_rows = [row for side in sides.values() for row in side["rows"] if not row[0].endswith(("MISSING", "GAP"))]
    _import_job(user=users[NATIONAL_MAKER], side="destination", rows=destination_rows, filename="destinations.csv")
    run_job = reconciliation.reconciliation_request(period=PERIOD, user=users[NATIONAL_MAKER])
    job_run(run_job.pk)
    run_job.refresh_from_db()
    assert run_job.state == "succeeded", run_job.errors
    # Province A's discrepancies: one open, one whose write-off A's maker proposed (issue 18).
    from apps.reconciliation import services as reconciliation_services
    from apps.reconciliation.models import Discrepancy

    of_a = Discrepancy.objects.filter(run_id=run_job.result["run"], home_province=A)
    discrepancies = {"open": of_a.get(settlement_id=f"SID-{PLANT[A]['tag']}-MISSING").pk}
    proposed = of_a.get(settlement_id=f"SID-{PLANT[A]['tag']}-GAP")
    reconciliation_services.discrepancy_resolve(discrepancy=proposed, user=users[MAKER_A], resolution="write_off", reason="核销")
    discrepancies["proposed"] = proposed.pk

    callers: dict[str, Caller] = {ANONYMOUS: Caller(ANONYMOUS, api=APIClient(enforce_csrf_checks=True), browser=_browser())}
    for name in (HOSPITAL_A, HOSPITAL_B, REVOKED_A):
        # A hospital has no browser session: its key goes along and must open no page.
        browser = _browser()
        browser.credentials(HTTP_AUTHORIZATION=f"Api-Key {keys[name]}")
        callers[name] = Caller(name, api=_key_client(keys[name]), browser=browser)
    for name, user in users.items():
        session = _logged_in(user.username)
        callers[name] = Caller(name, api=_token_client(user), browser=session, session_api=session)

    # Each hospital's code mapping (对码): a local code no answer to the other province may contain.
    mappings: dict[str, str] = {}
    for province in (A, B):
        mappings[province] = f"LOCAL-ONLY-{PLANT[province]['tag']}"
        hospital = Hospital.objects.get(code=PLANT[province]["hospital"][0])
        content = f"local_code,local_name,national_code\n{mappings[province]},自编码{PLANT[province]['tag']},{items[0]['code']}\n"
        mapping_services.mappings_replace(hospital=hospital, file=io.BytesIO(content.encode()), fmt="csv")

    a = sides[A]
    return World(
        callers=callers,
        users=users,
        published=published,
        draft=draft,
        item_code=items[0]["code"],
        account_a=a["account"],
        national=FundAccount.objects.get(kind=FundAccount.Kind.NATIONAL),
        transfer_a=a["proposed"],
        policy_a_draft=a["draft_policy"],
        policy_a_submitted=a["submitted_policy"],
        job_a=a["job"],
        run=run_job.result["run"],
        endpoint_a=endpoints[A],
        delivery_a=NoticeDelivery.objects.get(notice__hospital__code=PLANT[A]["hospital"][0]).pk,
        key_a_prefix=prefixes[A],
        markers={province: [*sides[province]["markers"], prefixes[province], mappings[province]] for province in (A, B)},
        objects=sides,
        pooling=_provincial_pooling(users),
        discrepancies=discrepancies,
    )

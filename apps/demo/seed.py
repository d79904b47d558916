"""Demo data: users of every role, two published catalog releases and a draft, funds and
transfers, benefit policies, and a reconciled month of cross-province settlements.

Each app's part is a function here, called in dependency order by ``seed_demo``; running it
twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.roles import Role
from apps.core.services import staff_create

DEMO_PASSWORD = "portal-demo-2026"
DEMO_USERS = [
    ("catalog_admin", Role.CATALOG_ADMIN, ""),
    ("catalog_reviewer", Role.CATALOG_REVIEWER, ""),
    ("sh_staff", Role.PROVINCE_STAFF, "310000"),
    ("sc_staff", Role.PROVINCE_STAFF, "510000"),
    ("sh_finance_maker", Role.FINANCE_MAKER, "310000"),
    ("sh_finance_checker", Role.FINANCE_CHECKER, "310000"),
    # Sichuan's finance pair: the other province of the demo's discrepancies (each needs both).
    ("sc_finance_maker", Role.FINANCE_MAKER, "510000"),
    ("sc_finance_checker", Role.FINANCE_CHECKER, "510000"),
    # National finance (no province): they start reconciliation runs and approve national-fund debits.
    ("national_finance_maker", Role.FINANCE_MAKER, ""),
    ("national_finance_checker", Role.FINANCE_CHECKER, ""),
    ("auditor", Role.AUDITOR, ""),
]


def seed_users() -> dict[str, Any]:
    User = get_user_model()
    admin = User.objects.filter(username="admin").first()
    if admin is None:
        admin = User.objects.create_superuser("admin", "admin@example.invalid", DEMO_PASSWORD)
    users: dict[str, Any] = {"admin": admin}
    for username, role, province in DEMO_USERS:
        users[username] = User.objects.filter(username=username).first() or staff_create(
            username=username, role=role, province_code=province, password=DEMO_PASSWORD
        )
    return users


def _publish(release: CatalogRelease, admin: AbstractUser, reviewer: AbstractUser) -> CatalogRelease:
    catalog.release_submit(release=release, user=admin)
    catalog.release_approve(release=release, user=reviewer)
    return catalog.release_publish(release=release, user=admin)


def seed_catalog(users: dict[str, Any]) -> None:
    if CatalogRelease.objects.exists():
        return
    admin, reviewer = users["catalog_admin"], users["catalog_reviewer"]
    items = list(generate_items(300, seed=2025))
    first = catalog.release_create_draft(label="2025.01", effective_from=dt.date(2025, 1, 1), user=admin)
    for item in items:
        catalog.item_put(release=first, data=item, user=admin, reason="2024 NRDL demo load")
    first = _publish(first, admin, reviewer)

    second = catalog.release_create_draft(label="2026.01", effective_from=dt.date(2026, 1, 1), user=admin, based_on=first)
    for item in items[:10]:
        catalog.item_put(release=second, data={**item, "category": "01", "self_pay_ratio": None}, user=admin, reason="moved to 甲")
    for item in items[290:]:
        catalog.item_delete(release=second, code=item["code"], user=admin, reason="delisted")
    successor = next(generate_items(1, seed=2026, start=900_000))
    catalog.item_put(release=second, data={**successor, "replaces": [items[289]["code"]]}, user=admin, reason="new product")
    catalog.item_delete(release=second, code=items[289]["code"], user=admin, reason="replaced")
    for item in generate_items(20, seed=2026, start=1000):
        catalog.item_put(release=second, data=item, user=admin, reason="2025 NRDL additions")
    second = _publish(second, admin, reviewer)

    draft = catalog.release_create_draft(label="2027.01", effective_from=dt.date(2027, 1, 1), user=admin, based_on=second)
    for item in generate_items(5, seed=2027, start=2000):
        catalog.item_put(release=draft, data=item, user=admin, reason="2026 NRDL candidates")


@transaction.atomic
def seed_all() -> dict[str, Any]:
    users = seed_users()
    seed_catalog(users)
    seed_pooling(users)
    seed_benefits(users)
    users["reconciliation_run"] = seed_reconciliation(users)
    return users


def seed_pooling(users: dict[str, Any]) -> None:
    """Fund income in Shanghai and two Sichuan regions, one posted and one pending transfer, and
    the 2026-01 adjustment-fund proposals for Sichuan waiting for a checker."""
    from decimal import Decimal

    from apps.benefits.models import PoolingRegion, Province
    from apps.pooling import services as pooling
    from apps.pooling.models import AdjustmentRule, FundAccount, Transfer

    if Transfer.objects.exists():
        return
    sichuan = Province.objects.get(code="510000")
    regions = [
        PoolingRegion.objects.get_or_create(code=code, defaults={"province": sichuan, "name": name})[0]
        for code, name in (("510100", "成都市"), ("510300", "自贡市"))
    ]
    pooling.accounts_ensure()
    User = get_user_model()
    for username, role in (("sc_finance_maker", Role.FINANCE_MAKER), ("sc_finance_checker", Role.FINANCE_CHECKER)):
        users[username] = User.objects.filter(username=username).first() or staff_create(
            username=username, role=role, province_code="510000", password=DEMO_PASSWORD
        )
    sh_maker, sh_checker = users["sh_finance_maker"], users["sh_finance_checker"]
    sc_maker, sc_checker = users["sc_finance_maker"], users["sc_finance_checker"]
    pooling.fund_income_record(
        province_code="310000",
        amount_fen=5_000_000_00,
        proposer=sh_maker,
        approver=sh_checker,
        memo="2026-01 fund income",
        idempotency_key="demo-income-sh",
    )
    for region, amount in zip(regions, (800_000_00, 90_000_00), strict=True):
        pooling.fund_income_record(
            province_code="510000",
            region_code=region.code,
            amount_fen=amount,
            proposer=sc_maker,
            approver=sc_checker,
            memo="2026-01 fund income",
            idempotency_key=f"demo-income-{region.code}",
        )
    shanghai = FundAccount.objects.get(kind="provincial", province__code="310000")
    national = FundAccount.objects.get(kind="national")
    posted = pooling.transfer_propose(
        from_account=shanghai,
        to_account=national,
        amount_fen=250_000_00,
        memo="2026 national adjustment contribution",
        proposer=sh_maker,
        idempotency_key="demo-national-2026",
    )
    pooling.transfer_approve(transfer=posted, approver=sh_checker)
    pooling.transfer_propose(
        from_account=shanghai,
        to_account=national,
        amount_fen=12_345_67,
        memo="top-up awaiting approval",
        proposer=sh_maker,
        idempotency_key="demo-pending",
    )
    AdjustmentRule.objects.get_or_create(
        province=sichuan, effective_from=dt.date(2026, 1, 1), defaults={"contribution_share": Decimal("0.05")}
    )
    for region, (income, spending, active, retired) in zip(
        regions, ((800_000_00, 650_000_00, 3_000_000, 900_000), (90_000_00, 120_000_00, 300_000, 330_000)), strict=True
    ):
        pooling.region_figures_put(
            region=region,
            period="2026-01",
            fund_income_fen=income,
            fund_expenditure_fen=spending,
            active_insured=active,
            retirees=retired,
            user=sc_maker,
        )
    pooling.adjustment_propose(province=sichuan, period="2026-01")
    seed_provincial_pooling(users, sichuan=sichuan, chengdu=regions[0])


def seed_provincial_pooling(users: dict[str, Any], *, sichuan: Any, chengdu: Any) -> None:
    """Advances that pre-fund the monthly clearing (Shanghai's and Sichuan's), 2026 budgets of
    Sichuan and Chengdu, Shanghai's own January figures and the national run of January."""
    import datetime as dt
    from decimal import Decimal

    from apps.benefits.models import Province
    from apps.pooling import services as pooling
    from apps.pooling.models import AdjustmentRule

    shanghai = Province.objects.get(code="310000")
    sh_maker, sh_checker = users["sh_finance_maker"], users["sh_finance_checker"]
    sc_maker, sc_checker = users["sc_finance_maker"], users["sc_finance_checker"]
    pooling.advance_policy_set(province=shanghai, threshold_fen=1_000_000_00, target_fen=3_000_000_00, user=sh_checker, reason="demo")
    pooling.advance_policy_set(province=sichuan, threshold_fen=500_000_00, target_fen=2_000_000_00, user=sc_checker, reason="demo")
    pooling.budget_save(
        province=sichuan, year=2026, expenditure_fen=12_000_000_00, cross_regional_fen=1_200_000_00, user=sc_maker, reason="demo"
    )
    pooling.budget_save(
        province=sichuan,
        region=chengdu,
        year=2026,
        expenditure_fen=8_000_000_00,
        cross_regional_fen=600_000_00,
        user=sc_maker,
        reason="demo",
    )
    pooling.region_figures_put(
        province=shanghai,
        period="2026-01",
        fund_income_fen=5_000_000_00,
        fund_expenditure_fen=4_200_000_00,
        cross_regional_fen=300_000_00,
        active_insured=12_000_000,
        retirees=4_800_000,
        user=sh_maker,
    )
    AdjustmentRule.objects.get_or_create(
        province=None, effective_from=dt.date(2026, 1, 1), defaults={"contribution_share": Decimal("0.02")}
    )
    pooling.adjustment_run(period="2026-01")


def seed_benefits(users: dict[str, Any]) -> None:
    """Employee policies for Sichuan (home) and Shanghai (destination), drafted by provincial
    staff and approved by the superuser, plus Shanghai local items lapsing soon and lapsed."""
    from decimal import Decimal

    from apps.benefits import services as benefits
    from apps.benefits.models import BenefitPolicy
    from apps.benefits.selectors import province_by_code

    if BenefitPolicy.objects.exists():
        return
    admin = users["admin"]
    plans = [
        ("sc_staff", "510000", "inpatient", 80_000, "0.90", "0.85", "0.10", 40_000_000, "1", "0.8"),
        ("sc_staff", "510000", "outpatient", 20_000, "0.70", "0.60", "0.10", 500_000, "1", "0.8"),
        ("sh_staff", "310000", "inpatient", 150_000, "0.85", "0.80", "0.10", 60_000_000, "1", "0.9"),
        ("sh_staff", "310000", "outpatient", 50_000, "0.70", "0.65", "0.10", 800_000, "1", "0.9"),
    ]
    for maker, province, setting, deductible, ratio_a, ratio_b, self_pay, cap, registered, unregistered in plans:
        policy = benefits.policy_create_draft(
            user=users[maker],
            province=province_by_code(province),
            scheme="employee",
            setting=setting,
            effective_from=dt.date(2025, 1, 1),
            deductible_fen=deductible,
            ratio_category_a=Decimal(ratio_a),
            ratio_category_b=Decimal(ratio_b),
            default_self_pay_ratio=Decimal(self_pay),
            annual_cap_fen=cap,
            cross_province_ratio_registered=Decimal(registered),
            cross_province_ratio_unregistered=Decimal(unregistered),
            note="demo",
        )
        benefits.policy_submit(policy=policy, user=users[maker])
        benefits.policy_approve(policy=policy, user=admin)
    today = dt.date.today()
    shanghai = province_by_code("310000")
    for code, name, sunset in (
        ("001102000010000-31", "上海增补：中医定向透药治疗", today + dt.timedelta(days=45)),
        ("001203000020000-31", "上海增补：经皮穴位电刺激", today + dt.timedelta(days=80)),
        ("001301000030000-31", "上海增补：已到期项目", today - dt.timedelta(days=10)),
    ):
        benefits.local_item_save(
            user=users["sh_staff"],
            province=shanghai,
            code=code,
            name=name,
            category="02",
            self_pay_ratio=Decimal("0.2"),
            effective_from=dt.date(2024, 1, 1),
            sunset_date=sunset,
        )


# --- reconciliation ---------------------------------------------------------------------------

RECONCILIATION_PERIOD = "2026-01"
_SETTLEMENT_HEADER = (
    "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,"
    "release_label,drg_group,total_fen,fund_fen,patient_fen"
)


def _settlement_files() -> tuple[bytes, bytes]:
    """(home side's file, destination side's file) of January 2026: 60 cross-province claims
    between Sichuan, Shanghai and Guangdong, all but a few reported alike by both sides.

    The few: two amount mismatches, one claim only the destination reported, one only the home
    province reported, one reported twice by the destination, and one coded against the 2025
    catalog although 2026.01 was in force: every kind of discrepancy the run report shows.
    """
    pairs = [("510000", "310000"), ("310000", "510000"), ("440000", "310000")]
    claims: list[dict[str, Any]] = []
    for n in range(60):
        home, destination = pairs[n % len(pairs)]
        total = 8_000 + (n * 7_919) % 90_000
        fund = total * 7 // 10
        claims.append(
            {
                "settlement_id": f"JS2026010{n:04d}",
                "home_province": home,
                "destination_province": destination,
                "hospital_code": f"H{destination}{n % 5:05d}",
                "patient_id_hash": f"demo-patient-{n:04d}",
                "date_of_service": f"2026-01-{1 + n % 28:02d}",
                "release_label": "2026.01",
                "drg_group": "",
                "total_fen": total,
                "fund_fen": fund,
                "patient_fen": total - fund,
            }
        )
    home_rows = [dict(c) for c in claims]
    destination_rows = [dict(c) for c in claims]
    for row in destination_rows[3:5]:  # the destination settled more than the home province recorded
        row["total_fen"] += 1_200
        row["fund_fen"] += 1_200
    del home_rows[10]  # reported by the destination only
    del destination_rows[20]  # reported by the home province only
    destination_rows.append(dict(destination_rows[30]))  # the same claim twice in one file
    destination_rows[40]["release_label"] = "2025.01"  # coded against last year's catalog

    def as_csv(rows: list[dict[str, Any]]) -> bytes:
        lines = [_SETTLEMENT_HEADER, *(",".join(str(row[c]) for c in _SETTLEMENT_HEADER.split(",")) for row in rows)]
        return ("\n".join(lines) + "\n").encode()

    return as_csv(home_rows), as_csv(destination_rows)


def seed_reconciliation(users: dict[str, Any]) -> Any:
    """Both sides' settlement files of January 2026, imported by the national finance maker (the
    files hold several provinces' rows, which a province-bound maker may not file), and a finished
    reconciliation run over them (with its netting proposals waiting for checkers).
    Returns the run, or the latest run of the month when the files were loaded before."""
    import io

    from apps.reconciliation import services as reconciliation
    from apps.reconciliation.models import ReconciliationRun, SettlementBatch

    if SettlementBatch.objects.filter(period=RECONCILIATION_PERIOD).exists():
        return ReconciliationRun.objects.filter(period=RECONCILIATION_PERIOD).order_by("-pk").first()
    maker = users["national_finance_maker"]
    home_file, destination_file = _settlement_files()
    for side, content in (("home", home_file), ("destination", destination_file)):
        reconciliation.settlement_import(
            period=RECONCILIATION_PERIOD, side=side, file=io.BytesIO(content), user=maker, filename=f"settlements-2026-01-{side}.csv"
        )
    run = reconciliation.reconciliation_run(period=RECONCILIATION_PERIOD, user=maker)
    seed_discrepancy_lifecycle(users, run)
    return run


def seed_discrepancy_lifecycle(users: dict[str, Any], run: Any) -> None:
    """A discrepancy of the run in each state, worked by Shanghai's and Sichuan's finance users:
    one resolved (its amount nets in the next run), one written off, one with a proposal waiting
    for the other province's checker, one disputed; the rest stay open."""
    from apps.reconciliation import services as reconciliation
    from apps.reconciliation.models import Discrepancy

    makers = {"310000": users["sh_finance_maker"], "510000": users["sc_finance_maker"]}
    checkers = {"310000": users["sh_finance_checker"], "510000": users["sc_finance_checker"]}
    ours = Discrepancy.objects.filter(run=run, home_province__in=list(makers), destination_province__in=list(makers)).order_by("pk")
    fund, total = ours.filter(kind="amount_mismatch", field="fund_fen"), ours.filter(kind="amount_mismatch", field="total_fen")

    def settle(d: Any, resolution: str, reason: str, *, amount_fen: int | None = None, approve: bool = True) -> None:
        # proposed by the destination's maker, approved by the home province's checker
        reconciliation.discrepancy_resolve(
            discrepancy=d, user=makers[d.destination_province], resolution=resolution, amount_fen=amount_fen, reason=reason
        )
        if approve:
            reconciliation.discrepancy_approve(discrepancy=d, user=checkers[d.home_province], reason="已核对明细")

    settle(fund[0], "accept_destination", "就医地提供了结算明细，按就医地金额结算")
    settle(total[0], "write_off", "总额差异随基金部分一并处理，核销")
    settle(fund[1], "agreed_amount", "双方协商按参保地金额结算", amount_fen=fund[1].home_fund_fen, approve=False)
    missing = ours.filter(kind__in=["missing_home", "missing_destination"]).first()
    if missing is not None:
        reconciliation.discrepancy_dispute(discrepancy=missing, user=makers[missing.home_province], reason="请对方核实此笔结算")

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
    catalog.release_submit(release=release, user=admin, confirm_removals=True)
    catalog.release_approve(release=release, user=reviewer)
    return catalog.release_publish(release=release, user=admin)


def seed_catalog(users: dict[str, Any]) -> None:
    if CatalogRelease.objects.exists():
        return
    admin, reviewer = users["catalog_admin"], users["catalog_reviewer"]
    items = list(generate_items(300, seed=2025))
    first = catalog.release_create_draft(label="2025.01", effective_from=dt.date(2025, 1, 1), user=admin)
    for item in items:
        catalog.item_put(release=first, data=item, user=admin, reason="2024 年国家医保药品目录演示数据")
    first = _publish(first, admin, reviewer)

    second = catalog.release_create_draft(label="2026.01", effective_from=dt.date(2026, 1, 1), user=admin, based_on=first)
    for item in items[:10]:
        catalog.item_put(release=second, data={**item, "category": "01", "self_pay_ratio": None}, user=admin, reason="调入甲类")
    for item in items[290:]:
        catalog.item_delete(release=second, code=item["code"], user=admin, reason="调出目录")
    successor = next(generate_items(1, seed=2026, start=900_000))
    catalog.item_put(release=second, data={**successor, "replaces": [items[289]["code"]]}, user=admin, reason="新产品")
    catalog.item_delete(release=second, code=items[289]["code"], user=admin, reason="被替代")
    for item in generate_items(20, seed=2026, start=1000):
        catalog.item_put(release=second, data=item, user=admin, reason="2025 年国家医保药品目录新增")
    second = _publish(second, admin, reviewer)


def seed_all() -> dict[str, Any]:
    """Everything, in dependency order. Hospitals and the releases ahead are seeded after the
    rest commits, with a webhook receiver of the demo's own listening, so their change notices
    are really delivered (signed, over HTTP) before the receiver stops."""
    with transaction.atomic():
        users = seed_users()
        seed_catalog(users)
        seed_pooling(users)
        seed_benefits(users)
        users["reconciliation_run"] = seed_reconciliation(users)
    with DemoReceiver() as receiver, transaction.atomic():
        users["hospital_key"] = seed_hospitals(users, webhook_url=receiver.url)
        seed_releases_ahead(users)
        seed_approvals_pending(users)
    return users


# --- hospitals, notices, releases ahead, approvals waiting ------------------------------------

DEMO_HOSPITALS = [
    # (code, name, province, level): digits 2-7 of the code are the region (GB/T 2260)
    ("H31010100001", "上海市第一人民医院", "310000", "3A"),
    ("H31010400002", "上海交通大学医学院附属瑞金医院", "310000", "3A"),
    ("H51010700003", "四川大学华西医院", "510000", "3A"),
    ("H51030200004", "自贡市第一人民医院", "510000", "3B"),
]
DEMO_KEY_NAME = "演示密钥（每次启动演示时重新签发）"
OLD_DEMO_KEY_NAMES = ("demo key (make run)",)  # the name before issue 17: still revoked on the next run


class DemoReceiver:
    """A webhook receiver on 127.0.0.1 (a random port) answering 204, for the seed's own
    deliveries; loopback is allowed outside production (WEBHOOK_ALLOWED_NETWORKS)."""

    def __enter__(self) -> DemoReceiver:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/catalog"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def seed_hospitals(users: dict[str, Any], *, webhook_url: str) -> str:
    """Four hospitals of Shanghai and Sichuan, each with a webhook endpoint; and one API key for
    the first, issued anew on every run (the previous demo key is revoked: keys are stored
    hashed, so a key can only be printed when it is issued). Returns that key."""
    from apps.hospitals import services as hospitals
    from apps.hospitals.models import Hospital
    from apps.notices import services as notices
    from apps.notices.models import WebhookEndpoint

    for code, name, province, level in DEMO_HOSPITALS:
        hospital = Hospital.objects.filter(code=code).first() or hospitals.hospital_register(
            code=code, name=name, province_code=province, level=level, contact_email=f"it-{code.lower()}@example.invalid"
        )
        if not WebhookEndpoint.objects.filter(hospital=hospital).exists():
            notices.endpoint_create(hospital=hospital, url=webhook_url)
        elif not CatalogRelease.objects.filter(label=f"{_year_ahead()}.01", status=CatalogRelease.Status.PUBLISHED).exists():
            # A run before the release ahead was published: point at this run's receiver.
            for endpoint in WebhookEndpoint.objects.filter(hospital=hospital, deleted_at__isnull=True):
                notices.endpoint_update(endpoint=endpoint, url=webhook_url)
    first = Hospital.objects.get(code=DEMO_HOSPITALS[0][0])
    for key in first.api_keys.filter(name__in=[DEMO_KEY_NAME, *OLD_DEMO_KEY_NAMES], revoked_at__isnull=True):
        hospitals.api_key_revoke(key=key, reason="演示数据已签发新的密钥")
    _key, raw = hospitals.api_key_issue(hospital=first, name=DEMO_KEY_NAME)
    return raw


def _year_ahead() -> int:
    return dt.date.today().year + 1


def seed_releases_ahead(users: dict[str, Any]) -> None:
    """A release published ahead of its date (1 January of next year), delivered to every
    hospital's webhook and acknowledged by two of them; and the notices of that publish."""
    from apps.notices import services as notices
    from apps.notices.delivery import deliver
    from apps.notices.models import NoticeDelivery

    admin, reviewer = users["catalog_admin"], users["catalog_reviewer"]
    year = _year_ahead()
    label = f"{year}.01"
    future = CatalogRelease.objects.filter(label=label).first()
    if future is None:
        future = catalog.release_create_draft(label=label, effective_from=dt.date(year, 1, 1), user=admin)
        for item in generate_items(5, seed=2027, start=2000):
            catalog.item_put(release=future, data=item, user=admin, reason=f"{year - 1} 年国家医保药品目录新增")
        first_codes = list(future.items.order_by("code").values_list("code", flat=True)[:2])
        for code in first_codes:
            catalog.item_delete(release=future, code=code, user=admin, reason="调出目录")
    if future.status == CatalogRelease.Status.DRAFT:
        _publish(future, admin, reviewer)
        pending = list(NoticeDelivery.objects.filter(state=NoticeDelivery.State.PENDING).values_list("id", flat=True))
        if pending:
            deliver(pending)
    from apps.hospitals.models import Hospital

    for code, *_rest in DEMO_HOSPITALS[:2]:
        hospital = Hospital.objects.get(code=code)
        notices.release_acknowledge(hospital_id=hospital.pk, label=label, items_count=future.items.count())
        notices.release_acknowledge(hospital_id=hospital.pk, label="2026.01")


def seed_approvals_pending(users: dict[str, Any]) -> None:
    """Work waiting for a second person: a release submitted for review (July of next year),
    a draft whose review warns about removals, and a submitted benefit policy. (The pending
    transfer and the adjustment proposals come from seed_pooling.)"""
    from decimal import Decimal

    from apps.benefits import services as benefits
    from apps.benefits.models import BenefitPolicy
    from apps.benefits.selectors import province_by_code

    admin = users["catalog_admin"]
    year = _year_ahead()
    submitted_label, draft_label = f"{year}.07", f"{year + 1}.01"
    if not CatalogRelease.objects.filter(label=submitted_label).exists():
        release = catalog.release_create_draft(label=submitted_label, effective_from=dt.date(year, 7, 1), user=admin)
        for item in generate_items(3, seed=2028, start=3000):
            catalog.item_put(release=release, data=item, user=admin, reason="年中谈判结果")
        catalog.release_submit(release=release, user=admin)
    if not CatalogRelease.objects.filter(label=draft_label).exists():
        draft = catalog.release_create_draft(label=draft_label, effective_from=dt.date(year + 1, 1, 1), user=admin)
        first_items = list(draft.items.order_by("code")[:4])
        for gone in first_items[:3]:
            catalog.item_delete(release=draft, code=gone.code, user=admin, reason="协议期满未续约")
        from apps.catalog.selectors import item_as_dict

        data = item_as_dict(first_items[3])
        catalog.item_put(release=draft, data={**data, "manufacturer": "", "specification": ""}, user=admin, reason="草稿修改")
    if not BenefitPolicy.objects.filter(status=BenefitPolicy.Status.SUBMITTED).exists():
        policy = benefits.policy_create_draft(
            user=users["sc_staff"],
            province=province_by_code("510000"),
            scheme="resident",
            setting="inpatient",
            effective_from=dt.date(year, 1, 1),
            deductible_fen=60_000,
            ratio_category_a=Decimal("0.80"),
            ratio_category_b=Decimal("0.75"),
            default_self_pay_ratio=Decimal("0.10"),
            annual_cap_fen=30_000_000,
            cross_province_ratio_registered=Decimal("1"),
            cross_province_ratio_unregistered=Decimal("0.8"),
            note="demo: waiting for a second person of the province",
        )
        benefits.policy_submit(policy=policy, user=users["sc_staff"])


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
        memo="2026-01 基金收入",
        idempotency_key="demo-income-sh",
    )
    for region, amount in zip(regions, (800_000_00, 90_000_00), strict=True):
        pooling.fund_income_record(
            province_code="510000",
            region_code=region.code,
            amount_fen=amount,
            proposer=sc_maker,
            approver=sc_checker,
            memo="2026-01 基金收入",
            idempotency_key=f"demo-income-{region.code}",
        )
    shanghai = FundAccount.objects.get(kind="provincial", province__code="310000")
    national = FundAccount.objects.get(kind="national")
    posted = pooling.transfer_propose(
        from_account=shanghai,
        to_account=national,
        amount_fen=250_000_00,
        memo="2026 年全国调剂金上解",
        proposer=sh_maker,
        idempotency_key="demo-national-2026",
    )
    pooling.transfer_approve(transfer=posted, approver=sh_checker)
    pooling.transfer_propose(
        from_account=shanghai,
        to_account=national,
        amount_fen=12_345_67,
        memo="待审批的补足",
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
    pooling.advance_policy_set(province=shanghai, threshold_fen=1_000_000_00, target_fen=3_000_000_00, user=sh_checker, reason="演示数据")
    pooling.advance_policy_set(province=sichuan, threshold_fen=500_000_00, target_fen=2_000_000_00, user=sc_checker, reason="演示数据")
    pooling.budget_save(
        province=sichuan, year=2026, expenditure_fen=12_000_000_00, cross_regional_fen=1_200_000_00, user=sc_maker, reason="演示数据"
    )
    pooling.budget_save(
        province=sichuan,
        region=chengdu,
        year=2026,
        expenditure_fen=8_000_000_00,
        cross_regional_fen=600_000_00,
        user=sc_maker,
        reason="演示数据",
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
            note="演示数据",
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

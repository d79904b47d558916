"""One object of province OTHER per admin model, built through the services where they exist.

``BUILDERS`` maps every model registered in the admin to a builder, or to None with the reason
the model holds no province's data. A model registered without an entry fails the scoping test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from apps.benefits import services as benefits
from apps.benefits.models import PoolingRegion, Province, ServicePrice
from apps.catalog import services as catalog
from apps.core.models import AuditEvent, Job
from apps.core.roles import Role
from apps.hospitals import services as hospitals
from apps.notices import services as notices
from apps.notices.models import ChangeNotice, DeliveryAttempt, ItemUsage, NoticeCounter, NoticeDelivery, ReleaseAcknowledgement
from apps.pooling import services as pooling
from apps.pooling.models import AdjustmentRule, LedgerEntry, Transfer
from apps.reconciliation.models import Discrepancy, ReconciliationRun, SettlementBatch, SettlementRecord
from tests.factories import staff

from .conftest import JAN_2025, OTHER, POLICY


class World:
    """Lazily built province-OTHER objects shared by the builders of one test."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]

    def staff(self) -> Any:
        return self.once("staff", lambda: staff(Role.PROVINCE_STAFF, OTHER, username="sc-staff"))

    def maker(self) -> Any:
        return self.once("maker", lambda: staff(Role.FINANCE_MAKER, OTHER, username="sc-finance-maker"))

    def checker(self) -> Any:
        return self.once("checker", lambda: staff(Role.FINANCE_CHECKER, OTHER, username="sc-finance-checker"))

    def province(self) -> Province:
        return Province.objects.get(code=OTHER)

    def hospital(self) -> Any:
        return self.once(
            "hospital",
            lambda: hospitals.hospital_register(code="H51010100001", name="四川省人民医院", province_code=OTHER, user=self.staff()),
        )

    def release(self) -> Any:
        def make() -> Any:
            admin = staff(Role.CATALOG_ADMIN, username="cat-admin-b")
            return catalog.release_create_draft(label="2099.01", effective_from=dt.date(2099, 1, 1), user=admin)

        return self.once("release", make)

    def endpoint(self) -> Any:
        return self.once("endpoint", lambda: notices.endpoint_create(hospital=self.hospital(), url="https://his.example.cn/hook")[0])

    def notice(self) -> ChangeNotice:
        return self.once(
            "notice", lambda: ChangeNotice.objects.create(hospital=self.hospital(), seq=1, release=self.release(), webhook_id="msg_sc_1")
        )

    def delivery(self) -> NoticeDelivery:
        return self.once("delivery", lambda: NoticeDelivery.objects.create(notice=self.notice(), endpoint=self.endpoint()))

    def transfer(self) -> Transfer:
        return self.once(
            "transfer",
            lambda: pooling.fund_income_record(
                province_code=OTHER, amount_fen=100_000, proposer=self.maker(), approver=self.checker(), idempotency_key="sc-income-1"
            ),
        )

    def run(self) -> ReconciliationRun:
        return self.once("run", lambda: ReconciliationRun.objects.create(period="2025-01", inputs="x" * 64))

    def batch(self) -> SettlementBatch:
        return self.once("batch", lambda: SettlementBatch.objects.create(period="2025-01", side="destination", rows=1))


def _settlement(w: World) -> SettlementRecord:
    from apps.reconciliation.services import settlement_partition_ensure

    settlement_partition_ensure(period="2025-01")  # records are partitioned by period (the import does this)
    return SettlementRecord.objects.create(
        batch=w.batch(),
        period="2025-01",
        side="destination",
        settlement_id="SC-0001",
        home_province=OTHER,
        destination_province="110000",
        hospital_code="H11010100001",
        patient_id_hash="p" * 64,
        date_of_service=dt.date(2025, 1, 5),
        release_label="2025.01",
        total_fen=1000,
        fund_fen=800,
        patient_fen=200,
    )


def _adjustment_run(w: World) -> Any:
    """A provincial run of OTHER (its rule and one region's figures)."""
    region = PoolingRegion.objects.filter(province__code=OTHER).order_by("code").first()
    AdjustmentRule.objects.create(province=w.province(), effective_from=JAN_2025, contribution_share="0.05")
    pooling.region_figures_put(
        region=region, period="2025-01", fund_income_fen=100, fund_expenditure_fen=90, active_insured=10, retirees=5, user=w.maker()
    )
    return pooling.adjustment_run(period="2025-01", province=w.province())[0]


NATIONAL = None  # catalog, provinces' shared reference data, runs: no province owns them
NO_PROVINCE_PERMISSIONS = None  # framework models province roles hold no permission for

BUILDERS: dict[str, Callable[[World], Any] | None] = {
    # core
    "core.staffprofile": lambda w: w.staff().staff_profile,
    "core.job": lambda w: Job.objects.create(kind="catalog.import", created_by=w.staff()),
    "core.auditevent": lambda w: AuditEvent.objects.create(
        action="transfer.posted", actor_label="x", object_type="pooling.transfer", object_id="1", province_code=OTHER
    ),
    "core.outgoingemail": NATIONAL,  # nobody but auditors reads the outbox
    # catalog: national
    "catalog.catalogrelease": NATIONAL,
    "catalog.catalogitem": NATIONAL,
    "catalog.releasechange": NATIONAL,
    "benefits.diagnosiscode": NATIONAL,
    # benefits
    "benefits.province": lambda w: w.province(),
    "benefits.poolingregion": lambda w: PoolingRegion.objects.filter(province__code=OTHER).first(),
    "benefits.benefitpolicy": lambda w: benefits.policy_create_draft(user=w.staff(), province=w.province(), **POLICY),
    "benefits.localitem": lambda w: benefits.local_item_save(
        user=w.staff(), province=w.province(), code="SC-LOCAL-1", name="川贝", effective_from=JAN_2025, sunset_date=dt.date(2030, 1, 1)
    ),
    "benefits.disease": lambda w: benefits.disease_save(
        user=w.staff(), province=w.province(), code="sc-copd", name="慢性阻塞性肺疾病", icd10_prefixes="J44"
    ),
    "benefits.serviceprice": lambda w: ServicePrice.objects.create(
        province=w.province(), code="001102000010000", price_fen=1_500, effective_from=JAN_2025
    ),
    "benefits.procedurecode": NATIONAL,
    "benefits.dailydose": NATIONAL,  # national reference of the catalog's items
    "benefits.drgversion": NATIONAL,  # DRG tables hold every area's rates, national reference
    # hospitals
    "hospitals.hospital": lambda w: w.hospital(),
    "hospitals.apikey": lambda w: hospitals.api_key_issue(hospital=w.hospital(), user=w.staff())[0],
    "notices.webhookendpoint": lambda w: w.endpoint(),
    "notices.changenotice": lambda w: w.notice(),
    "notices.noticedelivery": lambda w: w.delivery(),
    "notices.deliveryattempt": lambda w: DeliveryAttempt.objects.create(
        delivery=w.delivery(), attempted_at=timezone.now(), status_code=500, latency_ms=12
    ),
    "notices.releaseacknowledgement": lambda w: ReleaseAcknowledgement.objects.create(
        hospital=w.hospital(), release=w.release(), loaded_at=timezone.now()
    ),
    "notices.itemusage": lambda w: ItemUsage.objects.create(hospital=w.hospital(), code="XA01", reported_at=timezone.now()),
    "notices.noticecounter": lambda w: NoticeCounter.objects.create(hospital=w.hospital(), last_seq=1),
    # pooling
    "pooling.fundaccount": lambda w: w.transfer().to_account,
    "pooling.transfer": lambda w: w.transfer(),
    "pooling.ledgerentry": lambda w: LedgerEntry.objects.filter(transfer=w.transfer(), account__province__code=OTHER).first(),
    "pooling.regionperiodfigures": lambda w: pooling.region_figures_put(
        region=PoolingRegion.objects.filter(province__code=OTHER).first(),
        period="2025-01",
        fund_income_fen=1,
        fund_expenditure_fen=1,
        active_insured=1,
        retirees=1,
        user=w.maker(),
    ),
    "pooling.adjustmentrule": lambda w: AdjustmentRule.objects.create(
        province=w.province(), effective_from=JAN_2025, contribution_share="0.05", allocation_share="0.05"
    ),
    "pooling.adjustmentrun": lambda w: _adjustment_run(w),
    "pooling.advancefundpolicy": lambda w: pooling.advance_policy_set(
        province=w.province(), threshold_fen=1, target_fen=2, user=w.checker()
    ),
    "pooling.clearingresult": lambda w: pooling.clearing_record(period="2025-01", pairs=[(OTHER, "110000", 1, 100)], source="test")[0],
    "pooling.poolingbudget": lambda w: pooling.budget_save(
        province=w.province(), year=2025, expenditure_fen=10, cross_regional_fen=1, user=w.maker()
    ),
    "pooling.poolingmodelchange": lambda w: pooling.unification_propose(province=w.province(), user=w.maker(), reason="统收统支"),
    # reconciliation
    # a batch is the province's whose rows it holds (issue 18)
    "reconciliation.settlementbatch": lambda w: SettlementBatch.objects.create(period="2025-01", side="home", province=OTHER, rows=1),
    "reconciliation.reconciliationrun": NATIONAL,
    "reconciliation.settlementrecord": _settlement,
    "reconciliation.discrepancy": lambda w: Discrepancy.objects.create(
        run=w.run(), period="2025-01", kind="missing_home", settlement_id="SC-0001", home_province=OTHER, destination_province="110000"
    ),
}

THIRD_PARTY_APPS = {"auth", "axes", "otp_totp", "django_celery_beat"}

"""One small world for the security tests: two provinces (A = Shanghai, B = Sichuan), a hospital
with an API key in each, a revoked key, one staff user per role, a published and a draft release,
fund accounts with a proposed transfer of province A, a job and a webhook endpoint of hospital A.
Every object a request targets belongs to A, so a 2xx answer to a B caller is a leak."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from rest_framework.test import APIClient

from apps.catalog.demo import generate_items
from apps.core import jobs
from apps.core.roles import Role
from apps.hospitals import mapping_services
from apps.hospitals import services as hospitals
from apps.hospitals.models import ApiKey, Hospital
from apps.notices import services as notices
from apps.notices.models import NoticeDelivery
from apps.pooling import services as pooling
from apps.pooling.models import FundAccount, Transfer
from apps.reconciliation import services as reconciliation
from tests.factories import draft_release, published_release, staff
from tests.pooling.conftest import SC, SH, ensure_ledger

PROVINCE_A, PROVINCE_B = SH, SC

# Callers of the matrix, in the order of the issue.
ANONYMOUS = "anonymous"
HOSPITAL_A = "hospital_a_key"
HOSPITAL_B = "hospital_b_key"
REVOKED = "revoked_key"
PROVINCE_A_STAFF = "province_a_staff"
PROVINCE_B_STAFF = "province_b_staff"
FINANCE_MAKER = "finance_maker_a"
FINANCE_CHECKER = "finance_checker_a"
AUDITOR = "auditor"
CATALOG_ADMIN = "catalog_admin"
CALLERS = (
    ANONYMOUS,
    HOSPITAL_A,
    HOSPITAL_B,
    REVOKED,
    PROVINCE_A_STAFF,
    PROVINCE_B_STAFF,
    FINANCE_MAKER,
    FINANCE_CHECKER,
    AUDITOR,
    CATALOG_ADMIN,
)


@dataclass
class World:
    hospital_a: Hospital
    hospital_b: Hospital
    keys: dict[str, str]
    users: dict[str, Any]
    reviewer: Any
    published: Any
    draft: Any
    item_code: str
    account_a: FundAccount
    account_b: FundAccount
    national: FundAccount
    transfer_a: Transfer
    job_id: int
    endpoint_a_id: int
    key_a_prefix: str
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, caller: str) -> APIClient:
        client = APIClient()
        if caller in self.keys:
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {self.keys[caller]}")
        elif caller in self.users:
            client.force_authenticate(self.users[caller])
        return client


def build_world() -> World:
    ensure_ledger()
    hospital_a = hospitals.hospital_register(code="H31010100001", name="上海甲医院", province_code=PROVINCE_A)
    hospital_b = hospitals.hospital_register(code="H51010100001", name="四川乙医院", province_code=PROVINCE_B)
    key_a_obj, key_a = hospitals.api_key_issue(hospital=hospital_a)
    _, key_b = hospitals.api_key_issue(hospital=hospital_b)
    revoked_obj, revoked = hospitals.api_key_issue(hospital=hospital_a, name="old")
    hospitals.api_key_revoke(key=ApiKey.objects.get(pk=revoked_obj.pk))
    users = {
        PROVINCE_A_STAFF: staff(Role.PROVINCE_STAFF, PROVINCE_A, username="prov-a"),
        PROVINCE_B_STAFF: staff(Role.PROVINCE_STAFF, PROVINCE_B, username="prov-b"),
        FINANCE_MAKER: staff(Role.FINANCE_MAKER, PROVINCE_A, username="maker-a"),
        FINANCE_CHECKER: staff(Role.FINANCE_CHECKER, PROVINCE_A, username="checker-a"),
        AUDITOR: staff(Role.AUDITOR, username="auditor"),
        CATALOG_ADMIN: staff(Role.CATALOG_ADMIN, username="cat-admin"),
    }
    reviewer = staff(Role.CATALOG_REVIEWER, username="cat-reviewer")
    endpoint_a, _secret = notices.endpoint_create(hospital=hospital_a, url="http://127.0.0.1:9/hook")
    items = list(generate_items(8, seed=11))
    published = published_release(
        label="2026.01", effective_from=dt.date(2026, 1, 1), admin=users[CATALOG_ADMIN], reviewer=reviewer, items=items
    )
    draft = draft_release(label="2026.02", effective_from=dt.date(2026, 7, 1), user=users[CATALOG_ADMIN], based_on=published)
    accounts = FundAccount.objects.select_related("province")
    account_a = accounts.get(kind=FundAccount.Kind.PROVINCIAL, province__code=PROVINCE_A)
    account_b = accounts.get(kind=FundAccount.Kind.PROVINCIAL, province__code=PROVINCE_B)
    national = accounts.get(kind=FundAccount.Kind.NATIONAL)
    transfer_a = pooling.transfer_propose(
        from_account=account_a,
        to_account=national,
        amount_fen=0 + 100,
        memo="A to national",
        proposer=users[FINANCE_MAKER],
        idempotency_key="world-a-1",
    )
    job = jobs.job_create(kind="catalog_import", user=users[CATALOG_ADMIN], params={"release": draft.label})
    if not NoticeDelivery.objects.filter(notice__hospital=hospital_a).exists():
        notices.notices_create_for_release(release=published)  # publish's on-commit signal did not run
    delivery_a = NoticeDelivery.objects.get(notice__hospital=hospital_a)
    run = reconciliation.reconciliation_run(period="2026-02", user=users[FINANCE_MAKER])
    # Hospital A's code mapping: a local code no answer to anyone else may contain.
    mapping_a = "A-ONLY-LOCAL-0001"
    mapping_services.mappings_replace(
        hospital=hospital_a,
        file=io.BytesIO(f"local_code,local_name,national_code\n{mapping_a},甲院自编码,{items[0]['code']}\n".encode()),
        fmt="csv",
    )
    return World(
        hospital_a=hospital_a,
        hospital_b=hospital_b,
        keys={HOSPITAL_A: key_a, HOSPITAL_B: key_b, REVOKED: revoked},
        users=users,
        reviewer=reviewer,
        published=published,
        draft=draft,
        item_code=items[0]["code"],
        account_a=account_a,
        account_b=account_b,
        national=national,
        transfer_a=transfer_a,
        job_id=job.pk,
        endpoint_a_id=endpoint_a.pk,
        key_a_prefix=key_a_obj.prefix,
        extra={"delivery_a": delivery_a.pk, "run": run.pk, "mapping_a": mapping_a},
    )

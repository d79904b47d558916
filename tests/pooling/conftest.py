from __future__ import annotations

import itertools
from typing import Any

import pytest

from apps.benefits.models import PoolingRegion, Province
from apps.core.roles import Role
from apps.pooling import services
from apps.pooling.models import FundAccount
from tests.factories import staff

SH, SC = "310000", "510000"
_keys = itertools.count(1)


def key() -> str:
    return f"test-key-{next(_keys)}"


def ensure_ledger() -> None:
    """Provinces and regions this suite relies on, then their accounts (robust to a flushed db)."""
    Province.objects.get_or_create(code=SH, defaults={"name": "上海市", "name_en": "Shanghai"})
    sc, _ = Province.objects.get_or_create(code=SC, defaults={"name": "四川省", "name_en": "Sichuan"})
    PoolingRegion.objects.get_or_create(code="510100", defaults={"province": sc, "name": "成都市"})
    PoolingRegion.objects.get_or_create(code="510300", defaults={"province": sc, "name": "自贡市"})
    services.accounts_ensure()


def account(kind: str, province: str | None = None, region: str | None = None) -> FundAccount:
    accounts = FundAccount.objects.select_related("province")
    if region:
        return accounts.get(kind=kind, region__code=region)
    return accounts.get(kind=kind, province__code=province) if province else accounts.get(kind=kind)


def national_finance(role: str, username: str) -> Any:
    """A finance user who acts for no one province (a staff profile without a province)."""
    return staff(role, "", username=username)


class People:
    def __init__(self) -> None:
        self.sh_maker = staff(Role.FINANCE_MAKER, SH, username="sh-maker")
        self.sh_checker = staff(Role.FINANCE_CHECKER, SH, username="sh-checker")
        self.sh_checker2 = staff(Role.FINANCE_CHECKER, SH, username="sh-checker-2")
        self.sc_maker = staff(Role.FINANCE_MAKER, SC, username="sc-maker")
        self.sc_checker = staff(Role.FINANCE_CHECKER, SC, username="sc-checker")


@pytest.fixture
def ledger(db: Any) -> None:
    ensure_ledger()


@pytest.fixture
def people(ledger: None) -> People:
    return People()


def fund(target: FundAccount, amount_fen: int, people: People) -> None:
    """Put fund income into ``target`` (from its province's external account), approved."""
    maker, checker = (people.sh_maker, people.sh_checker) if target.province_code == SH else (people.sc_maker, people.sc_checker)
    services.fund_income_record(
        province_code=target.province_code,
        region_code=target.region.code if target.region_id else "",
        amount_fen=amount_fen,
        proposer=maker,
        approver=checker,
        idempotency_key=key(),
    )

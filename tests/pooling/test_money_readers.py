"""Who reads money (API.md "Controls"): accounts, entries and transfers are read by finance roles,
province_staff (own province) and auditors, over the API, in admin and on the overview page;
catalog roles get 403 permission_denied. National finance users (no province) approve debits of
the national fund; a province's debits stay with that province's checkers."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.errors import Forbidden
from apps.core.roles import Role
from apps.pooling import services
from tests.factories import staff
from tests.pooling.conftest import SC, SH, account, fund, key

pytestmark = pytest.mark.django_db
CATALOG_ROLES = (Role.CATALOG_ADMIN, Role.CATALOG_REVIEWER)


@pytest.fixture
def funded(people):
    fund(account("provincial", SH), 7_777_00, people)
    return services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=1_234_56,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )


def test_a_catalog_reviewer_reading_shanghai_ledger_entries_gets_403(api, funded):
    reviewer = staff(Role.CATALOG_REVIEWER, username="money-reviewer")
    response = api(reviewer).get(f"/api/v1/accounts/{account('provincial', SH).pk}/entries/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize("role", CATALOG_ROLES)
@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/v1/transfers/", "account", "transfer"])
def test_catalog_roles_get_403_on_every_money_read(api, funded, role, path):
    url = {"account": f"/api/v1/accounts/{account('provincial', SH).pk}/", "transfer": f"/api/v1/transfers/{funded.pk}/"}.get(path, path)
    response = api(staff(role, username=f"money-{role}")).get(url)
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize("role", CATALOG_ROLES)
def test_catalog_roles_cannot_open_the_fund_overview_page(funded, role):
    client = Client()
    client.force_login(staff(role, username=f"money-{role}"))
    assert client.get(reverse("admin:pooling_overview")).status_code == 403


def test_province_staff_read_their_own_provinces_entries(api, funded):
    response = api(staff(Role.PROVINCE_STAFF, SH, username="sh-money-staff")).get(
        f"/api/v1/accounts/{account('provincial', SH).pk}/entries/"
    )
    assert (response.status_code, [e["amount_fen"] for e in response.json()["results"]]) == (200, [7_777_00])


def test_province_staff_of_another_province_do_not_find_the_account(api, funded):
    response = api(staff(Role.PROVINCE_STAFF, SC, username="sc-money-staff")).get(f"/api/v1/accounts/{account('provincial', SH).pk}/")
    assert response.status_code == 404


def test_province_staff_see_their_provinces_transfers_in_admin(funded):
    client = Client()
    client.force_login(staff(Role.PROVINCE_STAFF, SH, username="sh-money-staff"))
    page = client.get(reverse("admin:pooling_transfer_changelist"))
    assert (page.status_code, f"{funded.pk}</a>" in page.content.decode()) == (200, True)


def test_an_auditor_reads_every_provinces_accounts(api, funded, auditor):
    provinces = {row["province"] for row in api(auditor).get("/api/v1/accounts/?page_size=1000").json()["results"]}
    assert {SH, SC} <= provinces


def test_a_national_checker_approves_a_debit_of_the_national_fund(people):
    fund(account("provincial", SH), 100_00, people)
    into_national = services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=50_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    services.transfer_approve(transfer=into_national, approver=people.sh_checker)
    national_maker = staff(Role.FINANCE_MAKER, username="national-maker")
    national_checker = staff(Role.FINANCE_CHECKER, username="national-checker")
    out = services.transfer_propose(
        from_account=account("national"),
        to_account=account("provincial", SC),
        amount_fen=20_00,
        proposer=national_maker,
        idempotency_key=key(),
    )
    assert services.transfer_approve(transfer=out, approver=national_checker).state == "posted"


def test_a_national_checker_does_not_approve_a_provinces_debit(people, funded):
    with pytest.raises(Forbidden) as err:
        services.transfer_approve(transfer=funded, approver=staff(Role.FINANCE_CHECKER, username="national-checker"))
    assert err.value.code == "wrong_province"


def test_province_staff_see_only_their_own_provinces_entries_on_the_national_fund(api, people):
    for province, amount in ((SH, 1_111_19), (SC, 2_222_27)):
        fund(account("provincial", province), 5_000_00, people)
        maker, checker = (people.sh_maker, people.sh_checker) if province == SH else (people.sc_maker, people.sc_checker)
        moved = services.transfer_propose(
            from_account=account("provincial", province),
            to_account=account("national"),
            amount_fen=amount,
            proposer=maker,
            idempotency_key=key(),
        )
        services.transfer_approve(transfer=moved, approver=checker)
    rows = api(staff(Role.PROVINCE_STAFF, SC, username="sc-money-staff")).get(f"/api/v1/accounts/{account('national').pk}/entries/").json()
    assert [e["amount_fen"] for e in rows["results"]] == [2_222_27]

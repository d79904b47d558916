import pytest
from django.core.management import call_command

from apps.pooling.models import Transfer
from tests.pooling.conftest import SC, SH, account, fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(people):
    fund(account("provincial", SH), 500_00, people)


def _propose(client, key="api-1", amount=10_00, **extra):
    body = {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "amount_fen": amount, "memo": "m", **extra}
    return client.post("/api/v1/transfers/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_proposal_is_created_once_and_replayed_with_200(api, people, funded):
    client = api(people.sh_maker)
    first, again = _propose(client), _propose(client)
    assert (first.status_code, again.status_code, again.json()["id"]) == (201, 200, first.json()["id"])


def test_same_key_with_another_body_answers_409_idempotency_key_conflict(api, people, funded):
    client = api(people.sh_maker)
    _propose(client, amount=10_00)
    response = _propose(client, amount=20_00)
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_key_conflict")


def test_proposal_without_idempotency_key_is_400(api, people, funded):
    response = api(people.sh_maker).post("/api/v1/transfers/", {"amount_fen": 1}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_transfer_shape_follows_the_contract(api, people, funded):
    body = _propose(api(people.sh_maker)).json()
    assert {"id", "state", "from_account", "to_account", "amount_fen", "memo", "proposed_by", "approved_by"} <= body.keys()
    assert (body["state"], body["proposed_by"], body["approved_by"]) == ("proposed", "sh-maker", None)


def test_proposer_approving_gets_409_same_user_cannot_approve(api, people, funded):
    client = api(people.sh_maker)
    transfer_id = _propose(client).json()["id"]
    response = client.post(f"/api/v1/transfers/{transfer_id}/approve/")
    assert (response.status_code, response.json()["code"]) == (409, "same_user_cannot_approve")


def test_checker_of_another_province_gets_403_wrong_province(api, people, funded):
    transfer_id = _propose(api(people.sh_maker)).json()["id"]
    response = api(people.sc_checker).post(f"/api/v1/transfers/{transfer_id}/approve/")
    assert (response.status_code, response.json()["code"]) == (403, "wrong_province")


def test_approval_posts_and_moves_the_balances(api, people, funded):
    transfer_id = _propose(api(people.sh_maker), amount=123_45).json()["id"]
    response = api(people.sh_checker).post(f"/api/v1/transfers/{transfer_id}/approve/")
    assert (response.status_code, response.json()["state"], response.json()["approved_by"]) == (200, "posted", "sh-checker")
    assert account("national").balance_fen == 123_45


def test_overdraft_answers_409_insufficient_funds(api, people, funded):
    # A person's proposal beyond what the account can pay is refused at once (issue 17); the
    # check at approval, under the account locks, is proved by the concurrency tests.
    response = _propose(api(people.sh_maker), amount=500_01)
    assert (response.status_code, response.json()["code"]) == (409, "insufficient_funds")


def test_second_approval_answers_409_transfer_not_proposed(api, people, funded):
    transfer_id = _propose(api(people.sh_maker)).json()["id"]
    api(people.sh_checker).post(f"/api/v1/transfers/{transfer_id}/approve/")
    response = api(people.sh_checker2).post(f"/api/v1/transfers/{transfer_id}/approve/")
    assert (response.status_code, response.json()["code"]) == (409, "transfer_not_proposed")


def test_reject_and_void_need_a_reason_and_close_the_transfer(api, people, funded):
    client = api(people.sh_maker)
    one, two = _propose(client, key="a").json()["id"], _propose(client, key="b").json()["id"]
    rejected = api(people.sh_checker).post(f"/api/v1/transfers/{one}/reject/", {"reason": "wrong month"}, format="json")
    voided = client.post(f"/api/v1/transfers/{two}/void/", {"reason": "duplicate"}, format="json")
    assert (rejected.json()["state"], voided.json()["state"]) == ("rejected", "voided")


def test_accounts_list_shows_contract_fields_and_province_scope(api, people, funded):
    body = api(people.sh_checker).get("/api/v1/accounts/?page_size=1000").json()
    kinds = {(row["kind"], row["province"]) for row in body["results"]}
    assert kinds == {("national", None), ("provincial", SH), ("external", SH), ("advance", SH)}
    assert {"id", "kind", "province", "region", "balance_fen", "overdraft_limit_fen"} <= body["results"][0].keys()


def test_auditor_sees_every_province(api, auditor, people):
    body = api(auditor).get(f"/api/v1/accounts/?province={SC}").json()
    assert {row["kind"] for row in body["results"]} == {"provincial", "external", "regional", "advance"}


def test_entries_of_an_account_are_listed_newest_first(api, people, funded):
    provincial = account("provincial", SH)
    body = api(people.sh_checker).get(f"/api/v1/accounts/{provincial.pk}/entries/").json()
    assert [row["amount_fen"] for row in body["results"]] == [500_00]


def test_entries_of_another_province_are_404(api, people, funded):
    response = api(people.sc_checker).get(f"/api/v1/accounts/{account('provincial', SH).pk}/entries/")
    assert response.status_code == 404


def test_hospital_or_anonymous_cannot_list_accounts(api):
    assert api(None).get("/api/v1/accounts/").status_code == 401


def test_record_fund_income_command_prints_the_posted_transfer_id(people, capsys):
    call_command(
        "record_fund_income",
        "--province",
        SC,
        "--region",
        "510100",
        "--amount-fen",
        "88800",
        "--proposer",
        "sc-maker",
        "--approver",
        "sc-checker",
    )
    transfer = Transfer.objects.get(pk=int(capsys.readouterr().out.strip()))
    assert (transfer.state, transfer.from_account.kind, account("regional", region="510100").balance_fen) == ("posted", "external", 888_00)


def test_a_memo_is_text_a_person_typed_not_a_number(api, people, funded):
    before = Transfer.objects.count()
    response = _propose(api(people.sh_maker), memo=0)
    assert (response.status_code, response.json()["errors"][0]["field"]) == (400, "memo")
    assert Transfer.objects.count() == before

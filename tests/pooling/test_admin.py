"""The transfer pages in admin: the proposal form in yuan with the available balance, the
detail page with its timeline and the buttons this user may use, each behind a confirmation."""

import pytest
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.pooling import services
from apps.pooling.models import Transfer
from tests.pooling.conftest import SH, account, fund, key

pytestmark = pytest.mark.django_db


@pytest.fixture
def proposed(people):
    fund(account("provincial", SH), 100_00, people)
    return services.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=25_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )


def _detail(transfer):
    return reverse("admin:pooling_transfer_change", args=[transfer.pk])


def _propose(client, **fields):
    body = {"from_account": account("provincial", SH).pk, "to_account": account("national").pk, "memo": "m", **fields}
    return client.post(reverse("admin:pooling_transfer_add"), body)


def test_overview_page_shows_balances_chart_and_pending_approvals(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.get(reverse("admin:pooling_overview")).content.decode()
    assert "<svg" in page and "¥100.00" in page and f"{proposed.pk}</a>" in page


def test_approving_on_the_detail_page_posts_with_the_reason_given(client, people, proposed):
    client.force_login(people.sh_checker)
    client.post(_detail(proposed), {"_detail_action": "approve", "reason": "月度上解，已核对"})
    event = AuditEvent.objects.get(action="transfer.posted", object_id=str(proposed.pk))
    assert (Transfer.objects.get(pk=proposed.pk).state, event.reason) == ("posted", "月度上解，已核对")


def test_the_approve_button_only_opens_a_confirmation_step_and_changes_nothing(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.get(_detail(proposed) + "?action=approve").content.decode()
    assert 'id="confirm-action"' in page and "¥25.00" in page
    assert Transfer.objects.get(pk=proposed.pk).state == "proposed"


def test_reject_without_a_reason_is_refused_on_the_confirmation_step(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.post(_detail(proposed), {"_detail_action": "reject", "reason": "  "}).content.decode()
    assert 'id="action-error"' in page and Transfer.objects.get(pk=proposed.pk).state == "proposed"


def test_reject_stores_the_reason_as_given(client, people, proposed):
    client.force_login(people.sh_checker)
    client.post(_detail(proposed), {"_detail_action": "reject", "reason": "金额与通知不符"})
    assert Transfer.objects.get(pk=proposed.pk).reason == "金额与通知不符"


def test_the_proposer_sees_void_but_no_approve_or_reject_button(client, people, proposed):
    client.force_login(people.sh_maker)
    page = client.get(_detail(proposed)).content.decode()
    assert ('id="action-void"' in page, 'id="action-approve"' in page, 'id="action-reject"' in page) == (True, False, False)


def test_a_checker_of_another_province_does_not_open_the_transfer(client, people, proposed):
    client.force_login(people.sc_checker)
    assert client.get(_detail(proposed)).status_code == 302  # "no such transfer" back to the admin home


def test_an_action_not_offered_is_refused_when_posted_by_hand(client, people, proposed):
    client.force_login(people.sh_maker)
    response = client.post(_detail(proposed), {"_detail_action": "approve", "reason": ""})
    assert response.status_code == 403 and Transfer.objects.get(pk=proposed.pk).state == "proposed"


def test_the_detail_page_shows_names_yuan_and_the_timeline(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.get(_detail(proposed)).content.decode()
    assert str(account("provincial", SH)) in page and "¥25.00" in page and 'class="timeline-entry"' in page
    assert f"{account('provincial', SH).pk}→" not in page


def test_the_list_shows_accounts_by_name_and_amounts_in_yuan(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.get(reverse("admin:pooling_transfer_changelist")).content.decode()
    assert "¥25.00" in page and str(account("national")) in page and ">2500<" not in page


def test_the_proposal_form_takes_yuan_and_stores_fen(client, people):
    fund(account("provincial", SH), 5_000_00, people)
    client.force_login(people.sh_maker)
    _propose(client, amount_fen="1234.56")
    assert Transfer.objects.get(memo="m", proposed_by=people.sh_maker).amount_fen == 123456


def test_the_proposal_form_refuses_more_than_two_decimals(client, people):
    fund(account("provincial", SH), 5_000_00, people)
    client.force_login(people.sh_maker)
    response = _propose(client, amount_fen="10.001")
    assert response.status_code == 200 and not Transfer.objects.filter(memo="m").exists()


def test_the_proposal_form_shows_the_available_balance_of_each_debit_account(client, people, proposed):
    client.force_login(people.sh_maker)
    page = client.get(reverse("admin:pooling_transfer_add")).content.decode()
    assert "¥75.00" in page  # ¥100 funded, ¥25 waiting for approval


def test_the_proposal_form_refuses_an_overdraft(client, people, proposed):
    client.force_login(people.sh_maker)
    response = _propose(client, amount_fen="75.01")
    assert response.status_code == 200 and not Transfer.objects.filter(memo="m").exists()


def test_a_million_yuan_asks_a_second_confirmation_before_it_is_proposed(client, people):
    fund(account("provincial", SH), 2_000_000_00, people)
    client.force_login(people.sh_maker)
    first = _propose(client, amount_fen="1000000.00")
    assert (first.status_code, 'id="id_confirm_large"' in first.content.decode(), Transfer.objects.filter(memo="m").exists()) == (
        200,
        True,
        False,
    )
    _propose(client, amount_fen="1000000.00", confirm_large="on")
    assert Transfer.objects.get(memo="m").amount_fen == 1_000_000_00


def test_the_dropdowns_offer_a_province_bound_maker_her_province_and_the_national_fund_only(client, people):
    client.force_login(people.sh_maker)
    form = client.get(reverse("admin:pooling_transfer_add")).context["adminform"].form
    provinces = {a.province_code for a in form.fields["to_account"].queryset}
    assert provinces == {SH, ""}


def test_the_province_filter_is_not_offered_to_a_province_bound_checker(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.get(reverse("admin:pooling_transfer_changelist")).content.decode()
    assert "四川省" not in page

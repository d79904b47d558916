import pytest
from django.urls import reverse

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


def test_overview_page_shows_balances_chart_and_pending_approvals(client, people, proposed):
    client.force_login(people.sh_checker)
    page = client.get(reverse("admin:pooling_overview")).content.decode()
    assert "<svg" in page and "¥100.00" in page and f"{proposed.pk}</a>" in page


def test_admin_approve_action_posts_through_the_service(client, people, proposed):
    client.force_login(people.sh_checker)
    client.post(reverse("admin:pooling_transfer_changelist"), {"action": "approve", "_selected_action": [proposed.pk]})
    assert Transfer.objects.get(pk=proposed.pk).state == "posted"


def test_admin_approve_by_proposer_is_refused_with_a_message(client, people, proposed):
    client.force_login(people.sh_maker)
    response = client.post(
        reverse("admin:pooling_transfer_changelist"), {"action": "approve", "_selected_action": [proposed.pk]}, follow=True
    )
    assert "same_user_cannot_approve" in response.content.decode()
    assert Transfer.objects.get(pk=proposed.pk).state == "proposed"

"""The email outbox: mail goes through a real SMTP server on loopback, each notice once, and a
dead server delays mail without losing it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from apps.core.mail import email_notify, email_send_due, staff_who_can
from apps.core.models import OutgoingEmail
from apps.core.roles import Role
from tests.factories import staff
from tests.integration.smtp import free_port, smtp_server

pytestmark = pytest.mark.django_db


def _smtp(port: int) -> Any:
    return override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)


def _checker(username: str, province: str = "310000") -> Any:
    user = staff(Role.FINANCE_CHECKER, province, username=username)
    user.email = f"{username}@example.org"
    user.save()
    return user


def test_a_notice_reaches_each_recipient_once_through_smtp():
    a, b = _checker("mail-a"), _checker("mail-b")
    with smtp_server() as (mailbox, port), _smtp(port):
        for _ in range(2):  # the same event told twice
            with transaction.atomic():
                email_notify(key="transfer.awaiting_approval:1", recipients=[a, b], subject="待审批划拨 #1", body="¥1,234.56")
            email_send_due()
    assert sorted(m["X-Envelope-To"] for m in mailbox.messages) == ["mail-a@example.org", "mail-b@example.org"]
    assert mailbox.to("mail-a@example.org")[0]["Subject"] is not None


def test_a_notice_of_an_action_that_rolled_back_is_never_sent():
    a = _checker("mail-a")
    with pytest.raises(RuntimeError), transaction.atomic():
        email_notify(key="release.awaiting_review:9", recipients=[a], subject="s", body="b")
        raise RuntimeError("the action failed")
    assert not OutgoingEmail.objects.exists()


def test_mail_waits_while_the_server_is_down_and_goes_out_once_it_is_back():
    a = _checker("mail-a")
    port = free_port()
    with _smtp(port):
        with transaction.atomic():
            email_notify(key="k:1", recipients=[a], subject="s", body="b")
        assert email_send_due() == 0  # nobody listens on the port
        row = OutgoingEmail.objects.get()
        assert (row.sent_at, row.attempts) == (None, 1) and row.next_attempt_at > timezone.now()
        OutgoingEmail.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
        with smtp_server(port) as (mailbox, _):
            assert email_send_due() == 1
            assert email_send_due() == 0
    assert len(mailbox.messages) == 1


def test_recipients_without_an_address_are_skipped_and_the_acting_person_is_excluded():
    proposer = _checker("mail-proposer")
    other = _checker("mail-other")
    silent = staff(Role.FINANCE_CHECKER, "310000", username="mail-silent")
    staff(Role.FINANCE_CHECKER, "510000", username="mail-sichuan").email = "sc@example.org"
    people = staff_who_can(roles=[Role.FINANCE_CHECKER], province="310000", exclude=[proposer])
    assert [u.username for u in people] == ["mail-other", "mail-silent"]
    with transaction.atomic():
        assert email_notify(key="k:2", recipients=people, subject="s", body="b") == 1
    assert list(OutgoingEmail.objects.values_list("recipient", flat=True)) == [other.email]
    assert silent.email == ""

"""An endpoint the portal disables (410 Gone, or failing for 5 days) is told to the hospital's
contact by email, through a real SMTP server on loopback, once per disable."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.header import decode_header, make_header
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.core.mail import email_send_due
from apps.core.models import OutgoingEmail
from apps.hospitals import services as hospitals
from apps.notices import delivery, services
from apps.notices.models import NoticeDelivery, WebhookEndpoint
from tests.integration.receiver import Receiver
from tests.integration.smtp import smtp_server

from .notice_helpers import release

pytestmark = pytest.mark.django_db
CONTACT = "his-admin@hospital.example.org"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _smtp(port: int) -> Any:
    return override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)


def _hospital(contact_email: str = CONTACT) -> Any:
    return hospitals.hospital_register(code="H31010100001", name="上海甲医院", province_code="310000", contact_email=contact_email)


def _deliver_once_to_a_410(receiver: Receiver, h: Any, catalog_admin: Any, reviewer: Any, n: int = 1) -> WebhookEndpoint:
    endpoint, secret = services.endpoint_create(hospital=h, url=receiver.url("gone"))
    receiver.expect("gone", secret)
    receiver.script("gone", 410)
    release(n, admin=catalog_admin, reviewer=reviewer)
    delivery.deliver(list(NoticeDelivery.objects.filter(endpoint=endpoint).values_list("id", flat=True)))
    endpoint.refresh_from_db()
    return endpoint


def test_an_endpoint_disabled_on_410_is_mailed_to_the_hospitals_contact(receiver, catalog_admin, reviewer):
    h = _hospital()
    endpoint = _deliver_once_to_a_410(receiver, h, catalog_admin, reviewer)
    with smtp_server() as (mailbox, port), _smtp(port):
        email_send_due()
    (message,) = mailbox.to(CONTACT)
    body = message.get_payload(decode=True).decode()
    subject = str(make_header(decode_header(message["Subject"])))
    assert (endpoint.active, h.code in subject, receiver.url("gone") in body, "410" in body) == (False, True, True, True)


def test_the_mail_tells_how_to_enable_the_endpoint_again(receiver, catalog_admin, reviewer):
    endpoint = _deliver_once_to_a_410(receiver, _hospital(), catalog_admin, reviewer)
    body = OutgoingEmail.objects.get(recipient=CONTACT).body
    assert f"/api/v1/webhooks/endpoints/{endpoint.pk}/" in body and "/api/v1/notices/?after_seq=" in body


def test_an_endpoint_disabled_after_5_days_failing_is_mailed_too(catalog_admin, reviewer):
    h = _hospital()
    endpoint, _ = services.endpoint_create(hospital=h, url="http://127.0.0.1:9/closed")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(days=6))
    release(1, admin=catalog_admin, reviewer=reviewer)
    delivery.deliver(list(NoticeDelivery.objects.filter(endpoint=endpoint).values_list("id", flat=True)))
    assert "5 days" in OutgoingEmail.objects.get(recipient=CONTACT).body


def test_each_disable_is_told_once(receiver, catalog_admin, reviewer):
    h = _hospital()
    endpoint = _deliver_once_to_a_410(receiver, h, catalog_admin, reviewer)
    services.endpoint_disable(endpoint_ids=[endpoint.pk], reason="again", now=timezone.now())  # already disabled: nothing
    services.endpoint_enable(endpoint=endpoint)
    services.endpoint_disable(endpoint_ids=[endpoint.pk], reason="receiver answered 410 Gone", now=timezone.now())
    assert OutgoingEmail.objects.filter(recipient=CONTACT).count() == 2


def test_a_hospital_without_a_contact_address_gets_no_mail_and_the_disable_still_happens(receiver, catalog_admin, reviewer):
    endpoint = _deliver_once_to_a_410(receiver, _hospital(contact_email=""), catalog_admin, reviewer)
    assert (endpoint.active, OutgoingEmail.objects.count()) == (False, 0)

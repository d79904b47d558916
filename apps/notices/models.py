"""Change notices: webhook endpoints, the outbox, deliveries, attempts, acknowledgements.

These models moved here from ``apps.hospitals`` (migration ``notices.0001`` renamed the tables
``hospitals_*`` → ``notices_*`` without copying a row). The notices app sits above hospitals:
it points at ``Hospital`` and ``CatalogRelease``; neither of those apps imports it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from apps.hospitals.models import Hospital


class DeliveryError(models.TextChoices):
    """What a hospital is told about a failed attempt. Coarse on purpose: transport error text
    (``curl error 7 … Connection refused``) would make the sender a port scanner of whatever
    network the URL reaches; staff read the full text in ``error`` / ``last_error``."""

    TIMEOUT = "timeout", _("Timeout")
    CONNECTION_FAILED = "connection_failed", _("Connection Failed")
    ENDPOINT_DISABLED = "endpoint_disabled", _("Endpoint Disabled")
    # plus ``http_<status>`` for any answer outside 2xx (not an enum member: open-ended)


class WebhookEndpoint(models.Model):
    """Where a hospital receives signed change notices. The secret (``whsec_…``) is shown once
    when created or rotated; during a rotation overlap notices are signed with both secrets so
    the receiver can switch without missing a message. A deleted endpoint is kept (inactive,
    ``deleted_at`` set) so its deliveries and attempts stay on record."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="webhook_endpoints", verbose_name=_("hospital"))
    url = models.URLField(max_length=500, verbose_name=_("url"))
    secret = models.CharField(max_length=128, editable=False, verbose_name=_("secret"))
    previous_secret = models.CharField(max_length=128, blank=True, default="", editable=False, verbose_name=_("previous secret"))
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("previous secret expires at"))
    event_types = models.JSONField(default=list, blank=True, help_text=_("Empty = every event type."), verbose_name=_("event types"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    disabled_reason = models.CharField(max_length=255, blank=True, default="", verbose_name=_("disabled reason"))
    disabled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("disabled at"))
    failing_since = models.DateTimeField(
        null=True, blank=True, help_text=_("Start of the current run of failed attempts."), verbose_name=_("failing since")
    )
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Deleted by the hospital or staff; kept for the record."), verbose_name=_("deleted at")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords(excluded_fields=["secret", "previous_secret"])

    class Meta:
        ordering = ["hospital_id", "id"]
        indexes = [
            models.Index(fields=["hospital", "active"], name="webhook_endpoint_hospital_idx"),
            # Every recorded batch clears failing_since on the endpoints that answered; the few
            # failing ones are found here instead of by one key look-up per endpoint.
            models.Index(fields=["id"], condition=models.Q(failing_since__isnull=False), name="webhook_endpoint_failing_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="webhook_endpoint_secret_set", condition=models.Q(secret__startswith="whsec_")),
            models.CheckConstraint(
                name="webhook_endpoint_disabled_has_reason",
                condition=models.Q(active=True) | ~models.Q(disabled_reason=""),
            ),
            models.CheckConstraint(
                name="webhook_endpoint_deleted_is_inactive",
                condition=models.Q(deleted_at__isnull=True) | models.Q(active=False),
            ),
        ]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return f"{self.hospital_id} → {self.url}"


class NoticeCounter(models.Model):
    """Per-hospital sequence counter: the row lock taken by the set-based increment serialises
    concurrent publishes per hospital, so ``ChangeNotice.seq`` has no gaps and never repeats."""

    # The outbox's keys are checked once per statement, not per row (apps.core.statement_fks;
    # triggers created by migration notices.0006): 100,000 per-row checks cost as much as the writes.
    hospital = models.OneToOneField(
        Hospital,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="notice_counter",
        db_constraint=False,
        verbose_name=_("hospital"),
    )
    last_seq = models.BigIntegerField(default=0, verbose_name=_("last seq"))

    class Meta:
        constraints = [models.CheckConstraint(name="notice_counter_nonnegative", condition=models.Q(last_seq__gte=0))]
        verbose_name = _("notice counter")
        verbose_name_plural = _("notice counters")

    def __str__(self) -> str:
        return f"{self.hospital_id}: seq {self.last_seq}"


class ChangeNotice(models.Model):
    """The outbox: one row per hospital per published release, written in the publishing
    transaction. ``webhook_id`` is the Standard Webhooks message id receivers dedupe by."""

    class EventType(models.TextChoices):
        RELEASE_PUBLISHED = "catalog.release.published", _("Release Published")

    # change_notice_seq_unique_per_hospital leads with hospital: it serves the hospital's look-ups.
    # Keys checked once per statement, like the counter's (migration notices.0006).
    hospital = models.ForeignKey(
        Hospital, on_delete=models.CASCADE, related_name="notices", db_index=False, db_constraint=False, verbose_name=_("hospital")
    )
    seq = models.BigIntegerField(verbose_name=_("seq"))
    event_type = models.CharField(
        max_length=64, choices=EventType.choices, default=EventType.RELEASE_PUBLISHED, verbose_name=_("event type")
    )
    # change_notice_once_per_release leads with release: it serves the release's look-ups.
    release = models.ForeignKey(
        "catalog.CatalogRelease",
        on_delete=models.PROTECT,
        related_name="notices",
        db_index=False,
        db_constraint=False,
        verbose_name=_("release"),
    )
    # Unique through Meta.constraints: the same index, without the LIKE-pattern index Django adds
    # beside a unique CharField (webhook ids are looked up whole, never by prefix).
    webhook_id = models.CharField(max_length=64, verbose_name=_("webhook id"))
    affected_items = models.JSONField(
        null=True,
        blank=True,
        help_text=_("Changed/retired items among the codes the hospital reported using."),
        verbose_name=_("affected items"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["hospital_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "seq"], name="change_notice_seq_unique_per_hospital"),
            models.UniqueConstraint(fields=["release", "hospital", "event_type"], name="change_notice_once_per_release"),
            models.UniqueConstraint(fields=["webhook_id"], name="change_notice_webhook_id_unique"),
            models.CheckConstraint(name="change_notice_seq_positive", condition=models.Q(seq__gt=0)),
        ]
        verbose_name = _("change notice")
        verbose_name_plural = _("change notices")

    def __str__(self) -> str:
        return f"{self.hospital_id}#{self.seq} {self.event_type}"


class NoticeDelivery(models.Model):
    """Delivery of one notice to one endpoint. ``lease_until`` marks a worker's claim; a claim
    that outlives its worker (SIGKILL) expires and the delivery is picked up again.
    ``last_error`` is for staff (full transport detail); ``last_error_code`` is what the
    hospital sees (``DeliveryError`` or ``http_<status>``)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    # Each row is written ~3 times per delivery (insert, lease, outcome), so it carries no index
    # another one already covers: notice_id leads the unique pair, endpoint_id the endpoint index.
    # Keys checked once per statement, like the notice's (migration notices.0006).
    notice = models.ForeignKey(
        ChangeNotice, on_delete=models.CASCADE, related_name="deliveries", db_index=False, db_constraint=False, verbose_name=_("notice")
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
        db_constraint=False,
        verbose_name=_("endpoint"),
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, verbose_name=_("state"))
    attempts = models.PositiveIntegerField(
        default=0, help_text=_("Attempts in the current round (reset by a replay)."), verbose_name=_("attempts")
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    lease_until = models.DateTimeField(null=True, blank=True, verbose_name=_("lease until"))
    last_status = models.IntegerField(null=True, blank=True, verbose_name=_("last status"))
    last_error = models.CharField(max_length=255, blank=True, default="", verbose_name=_("last error"))
    last_error_code = models.CharField(max_length=32, blank=True, default="", verbose_name=_("last error code"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("failed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = _("notice deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notice", "endpoint"], name="notice_delivery_once_per_endpoint"),
            models.CheckConstraint(
                name="notice_delivery_state_valid",
                condition=models.Q(state__in=["pending", "delivered", "failed"]),
            ),
            models.CheckConstraint(
                name="notice_delivery_delivered_has_time",
                condition=~models.Q(state="delivered") | models.Q(delivered_at__isnull=False),
            ),
        ]
        indexes = [
            # Only pending rows are ever looked for by due time; a settled row leaves the index.
            models.Index(fields=["next_attempt_at"], condition=models.Q(state="pending"), name="notice_delivery_due_idx"),
            models.Index(fields=["endpoint", "state"], name="notice_delivery_endpoint_idx"),
        ]
        verbose_name = _("notice delivery")

    def __str__(self) -> str:
        return gettext("delivery {id} of notice {notice} ({state})").format(
            id=self.pk, notice=self.notice_id, state=self.get_state_display()
        )


class DeliveryAttempt(models.Model):
    """One HTTP attempt: when, the status (None = no response), latency, the coarse error a
    hospital may see, the full error and a response excerpt for staff."""

    delivery = models.ForeignKey(
        NoticeDelivery, on_delete=models.CASCADE, related_name="attempt_log", db_index=False, verbose_name=_("delivery")
    )  # see Meta
    attempted_at = models.DateTimeField(verbose_name=_("attempted at"))
    status_code = models.IntegerField(null=True, blank=True, verbose_name=_("status code"))
    latency_ms = models.IntegerField(verbose_name=_("latency ms"))
    error = models.CharField(max_length=255, blank=True, default="", verbose_name=_("error"))
    error_code = models.CharField(max_length=32, blank=True, default="", verbose_name=_("error code"))
    response_excerpt = models.CharField(max_length=500, blank=True, default="", verbose_name=_("response excerpt"))

    class Meta:
        ordering = ["delivery_id", "attempted_at", "id"]
        indexes = [models.Index(fields=["delivery", "attempted_at"], name="delivery_attempt_idx")]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return gettext("attempt {id} → {outcome}").format(id=self.pk, outcome=self.status_code or self.error_code)


class ReleaseAcknowledgement(models.Model):
    """A hospital says it loaded a release ("we loaded 2026.01"); one row per hospital and release."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="acknowledgements", verbose_name=_("hospital"))
    release = models.ForeignKey(
        "catalog.CatalogRelease", on_delete=models.PROTECT, related_name="acknowledgements", verbose_name=_("release")
    )
    loaded_at = models.DateTimeField(verbose_name=_("loaded at"))
    items_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("items count"))
    acknowledged_at = models.DateTimeField(auto_now_add=True, verbose_name=_("acknowledged at"))
    history = HistoricalRecords()

    class Meta:
        ordering = ["-acknowledged_at"]
        constraints = [models.UniqueConstraint(fields=["hospital", "release"], name="release_ack_once_per_hospital")]
        verbose_name = _("release acknowledgement")
        verbose_name_plural = _("release acknowledgements")

    def __str__(self) -> str:
        return gettext("{hospital} loaded {release}").format(hospital=self.hospital_id, release=self.release_id)


class ItemUsage(models.Model):
    """A code the hospital billed recently (its upload, or settlement data later): used to list
    the items a notice affects for that hospital."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="item_usage", verbose_name=_("hospital"))
    code = models.CharField(max_length=32, verbose_name=_("code"))
    reported_at = models.DateTimeField(verbose_name=_("reported at"))

    class Meta:
        ordering = ["hospital_id", "code"]
        constraints = [models.UniqueConstraint(fields=["hospital", "code"], name="item_usage_code_unique_per_hospital")]
        verbose_name = _("item usage")
        verbose_name_plural = _("item usages")

    def __str__(self) -> str:
        return gettext("{hospital} uses {code}").format(hospital=self.hospital_id, code=self.code)

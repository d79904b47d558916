from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken
from simple_history.models import HistoricalRecords

from .roles import Role


class StaffProfile(models.Model):
    """The role (and, for provincial roles, the province) of a staff user; history-tracked."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile", verbose_name=_("user"))
    role = models.CharField(max_length=32, choices=Role.choices, verbose_name=_("role"))
    province_code = models.CharField(max_length=6, blank=True, default="", verbose_name=_("province code"))
    history = HistoricalRecords()

    class Meta:
        constraints = [
            # Provincial bureau staff always act for one province; finance users without one are national.
            models.CheckConstraint(
                name="staff_profile_province_staff_have_province",
                condition=~models.Q(role="province_staff") | ~models.Q(province_code=""),
            ),
        ]
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        suffix = f" @{self.province_code}" if self.province_code else ""
        return f"{self.user} ({self.role}{suffix})"


class StaffToken(AbstractAuthToken):
    """A staff API token (django-rest-knox, ``Authorization: Token …``): only its SHA-512 digest
    is stored, it expires (``STAFF_TOKEN_TTL``) and is revoked by deleting the row. Issued and
    revoked only through ``apps.core.services`` (each writes one audit event)."""

    # A finance checker with a TOTP device approves only with a token issued after an OTP check
    # (apps.core.otp); the token remembers that check for its whole life.
    otp_verified = models.BooleanField(
        default=False, help_text=_("Issued after a one-time code of the user's TOTP device was checked."), verbose_name=_("otp verified")
    )

    class Meta:
        verbose_name = _("staff API token")
        indexes = [models.Index(fields=["user", "expiry"], name="staff_token_by_user")]
        # knox allows tokens without expiry; staff tokens always end.
        constraints = [models.CheckConstraint(name="staff_token_expires", condition=models.Q(expiry__isnull=False))]
        verbose_name_plural = _("staff API tokens")

    def __str__(self) -> str:
        return f"token {self.token_key[:4]}… of {self.user}"


class Job(models.Model):
    """A long-running piece of work (an import, a reconciliation run) with visible progress."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=64, verbose_name=_("kind"))
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, verbose_name=_("state"))
    done = models.BigIntegerField(default=0, verbose_name=_("done"))
    total = models.BigIntegerField(null=True, blank=True, verbose_name=_("total"))
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))
    error_count = models.IntegerField(
        default=0, help_text=_("All errors found, also those not listed (the list is capped)."), verbose_name=_("error count")
    )
    result = models.JSONField(default=dict, blank=True, verbose_name=_("result"))
    params = models.JSONField(default=dict, blank=True, verbose_name=_("params"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("created by"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "state"])]
        verbose_name = _("job")
        verbose_name_plural = _("jobs")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class AuditAction(models.TextChoices):
    """The closed list of actions the audit log knows (``<object>.<verb>``). A service writes
    exactly one event per action it performs; add a member here when a new action appears."""

    STAFF_CREATED = "staff.created", _("staff user created")
    STAFF_ROLE_CHANGED = "staff.role_changed", _("staff role changed")
    STAFF_TOKEN_ISSUED = "staff.token_issued", _("staff API token issued")
    STAFF_TOKEN_REVOKED = "staff.token_revoked", _("staff API token revoked")
    RELEASE_CREATED = "release.created", _("release draft created")
    RELEASE_CHANGED = "release.changed", _("release draft details changed")
    RELEASE_DELETED = "release.deleted", _("release draft deleted")
    RELEASE_ITEM_CHANGED = "release.item_changed", _("draft item saved")
    RELEASE_ITEM_DELETED = "release.item_deleted", _("draft item deleted")
    RELEASE_IMPORTED = "release.imported", _("file imported into a draft")
    RELEASE_SUBMITTED = "release.submitted", _("release submitted for review")
    RELEASE_APPROVED = "release.approved", _("release approved")
    RELEASE_REJECTED = "release.rejected", _("release sent back to draft")
    RELEASE_PUBLISHED = "release.published", _("release published")
    POLICY_DRAFTED = "policy.drafted", _("benefit policy drafted")
    POLICY_CHANGED = "policy.changed", _("benefit policy draft changed")
    POLICY_SUBMITTED = "policy.submitted", _("benefit policy submitted")
    POLICY_APPROVED = "policy.approved", _("benefit policy approved")
    POLICY_REJECTED = "policy.rejected", _("benefit policy sent back to draft")
    LOCAL_ITEM_SAVED = "local_item.saved", _("local item saved")
    POLICY_DISEASES_SET = "policy.diseases_set", _("benefit policy draft's disease terms set")
    DISEASE_SAVED = "disease.saved", _("listed disease saved")
    DAILY_DOSE_PROPOSED = "daily_dose.proposed", _("daily dose proposed")
    DAILY_DOSE_APPROVED = "daily_dose.approved", _("daily dose approved")
    PRICES_IMPORTED = "prices.imported", _("service price schedule imported")
    DRG_VERSION_CREATED = "drg_version.created", _("DRG table draft created")
    DRG_VERSION_EDITED = "drg_version.edited", _("DRG table draft edited")
    DRG_VERSION_SUBMITTED = "drg_version.submitted", _("DRG table submitted for review")
    DRG_VERSION_APPROVED = "drg_version.approved", _("DRG table approved")
    DRG_VERSION_REJECTED = "drg_version.rejected", _("DRG table sent back to draft")
    DRG_VERSION_PUBLISHED = "drg_version.published", _("DRG table published")
    REFERENCE_IMPORTED = "reference.imported", _("reference data imported")
    HOSPITAL_REGISTERED = "hospital.registered", _("hospital registered")
    HOSPITAL_CHANGED = "hospital.changed", _("hospital details changed")
    HOSPITAL_ACTIVATED = "hospital.activated", _("hospital activated")
    HOSPITAL_DEACTIVATED = "hospital.deactivated", _("hospital deactivated")
    API_KEY_ISSUED = "api_key.issued", _("API key issued")
    API_KEY_REVOKED = "api_key.revoked", _("API key revoked")
    ENDPOINT_REGISTERED = "endpoint.registered", _("webhook endpoint registered")
    ENDPOINT_CHANGED = "endpoint.changed", _("webhook endpoint changed")
    ENDPOINT_DELETED = "endpoint.deleted", _("webhook endpoint deleted")
    ENDPOINT_SECRET_ROTATED = "endpoint.secret_rotated", _("webhook secret rotated")
    ENDPOINT_ENABLED = "endpoint.enabled", _("webhook endpoint enabled")
    ENDPOINT_DISABLED = "endpoint.disabled", _("webhook endpoint disabled")
    NOTICES_REPLAYED = "notices.replayed", _("notice deliveries replayed")
    RELEASE_ACKNOWLEDGED = "release.acknowledged", _("release acknowledged by a hospital")
    RELEASE_REMINDERS_QUEUED = "release.reminders_queued", _("hospitals reminded of a release they have not acknowledged")
    MAPPINGS_REPLACED = "mappings.replaced", _("hospital code mapping uploaded")
    ACCOUNT_LIMIT_CHANGED = "account.limit_changed", _("overdraft limit changed")
    TRANSFER_PROPOSED = "transfer.proposed", _("transfer proposed")
    TRANSFER_POSTED = "transfer.posted", _("transfer approved and posted")
    TRANSFER_REJECTED = "transfer.rejected", _("transfer rejected")
    TRANSFER_VOIDED = "transfer.voided", _("transfer voided")
    TRANSFER_REVERSAL_PROPOSED = "transfer.reversal_proposed", _("reversal proposed")
    REGION_FIGURES_ENTERED = "region_figures.entered", _("region figures entered")
    ADJUSTMENT_PROPOSED = "adjustment.proposed", _("risk adjustment proposed")
    ADJUSTMENT_RULE_SAVED = "adjustment.rule_saved", _("risk adjustment rule saved")
    REGION_FIGURES_IMPORTED = "region_figures.imported", _("region figures imported")
    ADVANCE_POLICY_CHANGED = "advance.policy_changed", _("advance fund policy changed")
    CLEARING_RECORDED = "clearing.recorded", _("settled cross-province amounts recorded")
    BUDGET_SAVED = "budget.saved", _("pooling budget saved")
    BUDGET_ALERTED = "budget.alerted", _("pooling budget alert sent")
    UNIFICATION_PROPOSED = "unification.proposed", _("move to unified collection and expenditure proposed")
    UNIFICATION_COMPLETED = "unification.completed", _("move to unified collection and expenditure completed")
    SETTLEMENTS_IMPORTED = "settlements.imported", _("settlement file imported")
    RECONCILIATION_RUN = "reconciliation.run", _("reconciliation run finished")
    SETTLEMENT_BATCH_WITHDRAWN = "settlement_batch.withdrawn", _("settlement batch withdrawn")
    DISCREPANCY_DISPUTED = "discrepancy.disputed", _("discrepancy disputed")
    DISCREPANCY_RESOLUTION_PROPOSED = "discrepancy.resolution_proposed", _("discrepancy resolution proposed")
    DISCREPANCY_APPROVED = "discrepancy.approved", _("discrepancy resolution approved (resolved or written off)")
    PARTITION_DETACHED = "partition.detached", _("a month of ledger entries or settlement records detached")


class AuditEvent(models.Model):
    """One row per action a person or process performed (Zulip's RealmAuditLog): who, what, on
    which object, for which province, why. Written by the service in the action's own transaction
    (``apps.core.audit.audit_record``); PostgreSQL refuses to change or delete a row."""

    occurred_at = models.DateTimeField(default=timezone.now, verbose_name=_("occurred at"))
    # No index of its own: audit_by_actor leads with it.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
        db_index=False,
    )
    actor_label = models.CharField(
        max_length=150, help_text=_("The user name at the time, or the hospital / process that acted."), verbose_name=_("actor label")
    )
    # Not ``choices``: the closed list is AuditAction, checked by audit_record, so adding an
    # action needs no migration; the CHECK keeps the shape.
    action = models.CharField(max_length=64, verbose_name=_("action"))
    object_type = models.CharField(max_length=64, help_text=_("app_label.model of the object acted on"), verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, blank=True, verbose_name=_("object id"))
    object_repr = models.CharField(max_length=200, blank=True, verbose_name=_("object repr"))
    province_code = models.CharField(
        max_length=6,
        blank=True,
        default="",
        help_text=_("The province the action concerns ('' national)."),
        verbose_name=_("province code"),
    )
    reason = models.TextField(blank=True, default="", verbose_name=_("reason"))
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("detail"))

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="audit_recent"),
            models.Index(fields=["action", "-occurred_at"], name="audit_by_action"),
            models.Index(fields=["province_code", "-occurred_at"], name="audit_by_province"),
            models.Index(fields=["actor", "-occurred_at"], name="audit_by_actor"),
            models.Index(fields=["object_type", "object_id"], name="audit_by_object"),
        ]
        constraints = [
            models.CheckConstraint(name="audit_action_is_dotted", condition=models.Q(action__regex=r"^[a-z_]+\.[a-z_]+$")),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}#{self.object_id}"

    @property
    def action_label(self) -> str:
        try:
            return str(AuditAction(self.action).label)
        except ValueError:
            return self.action


class OutgoingEmail(models.Model):
    """The email outbox: a notice to one person, sent once. ``key`` names the event (e.g.
    ``transfer.awaiting_approval:42``); the pair (key, recipient) is unique, so telling the same
    person about the same event twice writes nothing. Workers send unsent rows (``apps.core.mail``)."""

    key = models.CharField(max_length=200, verbose_name=_("key"))
    recipient = models.EmailField(max_length=254, verbose_name=_("recipient"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("user")
    )
    subject = models.CharField(max_length=200, verbose_name=_("subject"))
    body = models.TextField(verbose_name=_("body"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(default=timezone.now, verbose_name=_("next attempt at"))
    last_error = models.CharField(max_length=500, blank=True, default="", verbose_name=_("last error"))

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key", "recipient"], name="outgoing_email_once_per_recipient")]
        indexes = [models.Index(fields=["next_attempt_at"], name="outgoing_email_due", condition=models.Q(sent_at__isnull=True))]
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")

    def __str__(self) -> str:
        return f"{self.key} → {self.recipient} ({'sent' if self.sent_at else 'pending'})"


class Generation(models.Model):
    """A counter that only goes up, advanced inside the transaction of the write it counts (the
    catalog's publishes: ``catalog.publish``). A streaming replica replays it with the data, so
    comparing the replica's value with the primary's tells whether the replica has every
    published release yet (``apps.core.replica``)."""

    name = models.CharField(max_length=64, primary_key=True, verbose_name=_("name"))
    value = models.BigIntegerField(default=0, verbose_name=_("value"))

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(value__gte=0), name="generation_not_negative")]
        verbose_name = _("generation")
        verbose_name_plural = _("generations")

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"

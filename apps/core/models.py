from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from knox.models import AbstractAuthToken
from simple_history.models import HistoricalRecords

from .roles import Role


class StaffProfile(models.Model):
    """The role (and, for provincial roles, the province) of a staff user; history-tracked."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    role = models.CharField(max_length=32, choices=Role.choices)
    province_code = models.CharField(max_length=6, blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        constraints = [
            # Provincial bureau staff always act for one province; finance users without one are national.
            models.CheckConstraint(
                name="staff_profile_province_staff_have_province",
                condition=~models.Q(role="province_staff") | ~models.Q(province_code=""),
            ),
        ]

    def __str__(self) -> str:
        suffix = f" @{self.province_code}" if self.province_code else ""
        return f"{self.user} ({self.role}{suffix})"


class StaffToken(AbstractAuthToken):
    """A staff API token (django-rest-knox, ``Authorization: Token …``): only its SHA-512 digest
    is stored, it expires (``STAFF_TOKEN_TTL``) and is revoked by deleting the row. Issued and
    revoked only through ``apps.core.services`` (each writes one audit event)."""

    # A finance checker with a TOTP device approves only with a token issued after an OTP check
    # (apps.core.otp); the token remembers that check for its whole life.
    otp_verified = models.BooleanField(default=False, help_text="Issued after a one-time code of the user's TOTP device was checked.")

    class Meta:
        verbose_name = "staff API token"
        indexes = [models.Index(fields=["user", "expiry"], name="staff_token_by_user")]
        # knox allows tokens without expiry; staff tokens always end.
        constraints = [models.CheckConstraint(name="staff_token_expires", condition=models.Q(expiry__isnull=False))]

    def __str__(self) -> str:
        return f"token {self.token_key[:4]}… of {self.user}"


class Job(models.Model):
    """A long-running piece of work (an import, a reconciliation run) with visible progress."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    kind = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.IntegerField(default=0, help_text="All errors found, also those not listed (the list is capped).")
    result = models.JSONField(default=dict, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "state"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.state})"


class AuditAction(models.TextChoices):
    """The closed list of actions the audit log knows (``<object>.<verb>``). A service writes
    exactly one event per action it performs; add a member here when a new action appears."""

    STAFF_CREATED = "staff.created", "staff user created"
    STAFF_ROLE_CHANGED = "staff.role_changed", "staff role changed"
    STAFF_TOKEN_ISSUED = "staff.token_issued", "staff API token issued"
    STAFF_TOKEN_REVOKED = "staff.token_revoked", "staff API token revoked"
    RELEASE_CREATED = "release.created", "release draft created"
    RELEASE_CHANGED = "release.changed", "release draft details changed"
    RELEASE_ITEM_CHANGED = "release.item_changed", "draft item saved"
    RELEASE_ITEM_DELETED = "release.item_deleted", "draft item deleted"
    RELEASE_IMPORTED = "release.imported", "file imported into a draft"
    RELEASE_SUBMITTED = "release.submitted", "release submitted for review"
    RELEASE_APPROVED = "release.approved", "release approved"
    RELEASE_REJECTED = "release.rejected", "release sent back to draft"
    RELEASE_PUBLISHED = "release.published", "release published"
    POLICY_DRAFTED = "policy.drafted", "benefit policy drafted"
    POLICY_CHANGED = "policy.changed", "benefit policy draft changed"
    POLICY_SUBMITTED = "policy.submitted", "benefit policy submitted"
    POLICY_APPROVED = "policy.approved", "benefit policy approved"
    POLICY_REJECTED = "policy.rejected", "benefit policy sent back to draft"
    LOCAL_ITEM_SAVED = "local_item.saved", "local item saved"
    POLICY_DISEASES_SET = "policy.diseases_set", "benefit policy draft's disease terms set"
    DISEASE_SAVED = "disease.saved", "listed disease saved"
    DAILY_DOSE_PROPOSED = "daily_dose.proposed", "daily dose proposed"
    DAILY_DOSE_APPROVED = "daily_dose.approved", "daily dose approved"
    PRICES_IMPORTED = "prices.imported", "service price schedule imported"
    DRG_VERSION_CREATED = "drg_version.created", "DRG table draft created"
    DRG_VERSION_EDITED = "drg_version.edited", "DRG table draft edited"
    DRG_VERSION_SUBMITTED = "drg_version.submitted", "DRG table submitted for review"
    DRG_VERSION_APPROVED = "drg_version.approved", "DRG table approved"
    DRG_VERSION_REJECTED = "drg_version.rejected", "DRG table sent back to draft"
    DRG_VERSION_PUBLISHED = "drg_version.published", "DRG table published"
    REFERENCE_IMPORTED = "reference.imported", "reference data imported"
    HOSPITAL_REGISTERED = "hospital.registered", "hospital registered"
    HOSPITAL_CHANGED = "hospital.changed", "hospital details changed"
    HOSPITAL_ACTIVATED = "hospital.activated", "hospital activated"
    HOSPITAL_DEACTIVATED = "hospital.deactivated", "hospital deactivated"
    API_KEY_ISSUED = "api_key.issued", "API key issued"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    ENDPOINT_REGISTERED = "endpoint.registered", "webhook endpoint registered"
    ENDPOINT_CHANGED = "endpoint.changed", "webhook endpoint changed"
    ENDPOINT_DELETED = "endpoint.deleted", "webhook endpoint deleted"
    ENDPOINT_SECRET_ROTATED = "endpoint.secret_rotated", "webhook secret rotated"
    ENDPOINT_ENABLED = "endpoint.enabled", "webhook endpoint enabled"
    ENDPOINT_DISABLED = "endpoint.disabled", "webhook endpoint disabled"
    NOTICES_REPLAYED = "notices.replayed", "notice deliveries replayed"
    RELEASE_ACKNOWLEDGED = "release.acknowledged", "release acknowledged by a hospital"
    MAPPINGS_REPLACED = "mappings.replaced", "hospital code mapping uploaded"
    ACCOUNT_LIMIT_CHANGED = "account.limit_changed", "overdraft limit changed"
    TRANSFER_PROPOSED = "transfer.proposed", "transfer proposed"
    TRANSFER_POSTED = "transfer.posted", "transfer approved and posted"
    TRANSFER_REJECTED = "transfer.rejected", "transfer rejected"
    TRANSFER_VOIDED = "transfer.voided", "transfer voided"
    TRANSFER_REVERSAL_PROPOSED = "transfer.reversal_proposed", "reversal proposed"
    REGION_FIGURES_ENTERED = "region_figures.entered", "region figures entered"
    ADJUSTMENT_PROPOSED = "adjustment.proposed", "risk adjustment proposed"
    ADJUSTMENT_RULE_SAVED = "adjustment.rule_saved", "risk adjustment rule saved"
    REGION_FIGURES_IMPORTED = "region_figures.imported", "region figures imported"
    ADVANCE_POLICY_CHANGED = "advance.policy_changed", "advance fund policy changed"
    CLEARING_RECORDED = "clearing.recorded", "settled cross-province amounts recorded"
    BUDGET_SAVED = "budget.saved", "pooling budget saved"
    BUDGET_ALERTED = "budget.alerted", "pooling budget alert sent"
    UNIFICATION_PROPOSED = "unification.proposed", "move to unified collection and expenditure proposed"
    UNIFICATION_COMPLETED = "unification.completed", "move to unified collection and expenditure completed"
    SETTLEMENTS_IMPORTED = "settlements.imported", "settlement file imported"
    RECONCILIATION_RUN = "reconciliation.run", "reconciliation run finished"
    SETTLEMENT_BATCH_WITHDRAWN = "settlement_batch.withdrawn", "settlement batch withdrawn"
    DISCREPANCY_DISPUTED = "discrepancy.disputed", "discrepancy disputed"
    DISCREPANCY_RESOLUTION_PROPOSED = "discrepancy.resolution_proposed", "discrepancy resolution proposed"
    DISCREPANCY_APPROVED = "discrepancy.approved", "discrepancy resolution approved (resolved or written off)"


class AuditEvent(models.Model):
    """One row per action a person or process performed (Zulip's RealmAuditLog): who, what, on
    which object, for which province, why. Written by the service in the action's own transaction
    (``apps.core.audit.audit_record``); PostgreSQL refuses to change or delete a row."""

    occurred_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=150, help_text="The user name at the time, or the hospital / process that acted.")
    # Not ``choices``: the closed list is AuditAction, checked by audit_record, so adding an
    # action needs no migration; the CHECK keeps the shape.
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, help_text="app_label.model of the object acted on")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    province_code = models.CharField(max_length=6, blank=True, default="", help_text="The province the action concerns ('' national).")
    reason = models.TextField(blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)

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

    key = models.CharField(max_length=200)
    recipient = models.EmailField(max_length=254)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key", "recipient"], name="outgoing_email_once_per_recipient")]
        indexes = [models.Index(fields=["next_attempt_at"], name="outgoing_email_due", condition=models.Q(sent_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.key} → {self.recipient} ({'sent' if self.sent_at else 'pending'})"


class Generation(models.Model):
    """A counter that only goes up, advanced inside the transaction of the write it counts (the
    catalog's publishes: ``catalog.publish``). A streaming replica replays it with the data, so
    comparing the replica's value with the primary's tells whether the replica has every
    published release yet (``apps.core.replica``)."""

    name = models.CharField(max_length=64, primary_key=True)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(value__gte=0), name="generation_not_negative")]

    def __str__(self) -> str:
        return f"{self.name} = {self.value}"

"""One label per stable code, for people: pre-check reasons, error codes of the services, row
errors of imports and coarse delivery errors. The API keeps answering with the codes (its
contract); pages, admin messages and job reports show ``code_label(code)`` (template filter
``code_label`` in ``portal_labels``), in the visitor's language. A code without a label here
is shown as itself: add its label here (and its translation), never a second mapping."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from .errors import DomainError

CODE_LABELS: dict[str, Any] = {
    # Pre-check (adjudication) reasons of a claim line.
    "covered": _("covered"),
    "annual_cap_reached": _("annual cap reached"),
    "not_in_catalog": _("not in the catalog in force"),
    "category_c_not_covered": _("category C (丙): not covered"),
    "local_item_expired": _("local item lapsed"),
    "local_item_not_yet_effective": _("local item not yet in force"),
    "restriction_hospital_level": _("restricted to higher-level hospitals"),
    "restriction_indication": _("indication restriction not met"),
    "restriction_max_days": _("beyond the maximum days paid"),
    "over_payment_standard": _("above the payment standard"),
    "disease_not_listed": _("no listed chronic or special disease"),
    "code_format": _("malformed code"),
    "duplicate_line_no": _("duplicate line number"),
    # Workflow refusals (409) and access (401/403).
    "same_user_cannot_approve": _("the same person cannot approve (two people are needed)"),
    "release_not_approved": _("the release is not approved"),
    "release_not_draft": _("the release is no longer a draft"),
    "release_not_in_review": _("the release is not in review"),
    "release_unknown": _("unknown release"),
    "effective_date_taken": _("another release takes effect on that date"),
    "no_release_in_force": _("no release in force on that date"),
    "idempotency_key_conflict": _("the idempotency key was used for another request"),
    "transfer_not_proposed": _("the transfer is no longer proposed"),
    "transfer_not_posted": _("the transfer is not posted"),
    "transfer_already_reversed": _("the transfer is already reversed"),
    "transfer_pending": _("a transfer is still pending"),
    "insufficient_funds": _("insufficient funds"),
    "same_account": _("debited and credited account are the same"),
    "account_closed": _("the account is closed"),
    "balance_not_zero": _("the balance is not zero"),
    "policy_not_draft": _("the policy is not a draft"),
    "policy_not_submitted": _("the policy is not submitted"),
    "policy_overlap": _("overlaps another policy's effective dates"),
    "price_overlap": _("overlaps another price's effective dates"),
    "price_unknown": _("no price for this item"),
    "daily_dose_not_proposed": _("the daily dose is not proposed"),
    "drg_version_not_draft": _("the DRG table is not a draft"),
    "drg_version_not_in_review": _("the DRG table is not in review"),
    "drg_version_not_approved": _("the DRG table is not approved"),
    "drg_version_incomplete": _("the DRG table is incomplete"),
    "drg_group_unknown": _("unknown DRG group"),
    "drg_payment_not_adjudicated": _("DRG payment not adjudicated"),
    "no_benefit_policy": _("no benefit policy in force"),
    "adjustment_already_posted": _("the adjustment is already posted"),
    "already_unified": _("the province already has unified collection and expenditure"),
    "province_unified": _("the province has unified collection and expenditure"),
    "unification_not_pending": _("no move to unified collection is pending"),
    "consolidation_incomplete": _("the consolidation of regional accounts is incomplete"),
    "unit_account_missing": _("an account of the pooling unit is missing"),
    "figures_missing": _("region figures are missing"),
    "rule_in_use": _("the rule is in use"),
    "rule_unknown": _("unknown rule"),
    "below_threshold": _("below the threshold"),
    "over_expenditure": _("more than the expenditure"),
    "webhook_endpoint_limit": _("too many webhook endpoints"),
    "webhook_url_not_public": _("the webhook address is not public"),
    "unknown_event_type": _("unknown event type"),
    "export_unavailable": _("the export file is not available"),
    "import_rejected": _("the file was rejected"),
    "conflict": _("refused by a workflow rule"),
    "not_authenticated": _("not logged in"),
    "api_key_revoked": _("the API key is revoked"),
    "api_key_unknown": _("unknown API key"),
    "permission_denied": _("not allowed for your role"),
    "wrong_province": _("another province's data"),
    "locked_out": _("too many failed logins: locked for a while"),
    "otp_required": _("one-time code required"),
    "otp_invalid": _("wrong or expired one-time code"),
    "otp_throttled": _("too many wrong one-time codes"),
    "not_found": _("not found"),
    "code_unknown": _("unknown code"),
    "read_only": _("read-only"),
    "request_too_large": _("the upload is too large"),
    "too_large": _("too large"),
    "too_many_rows": _("too many rows"),
    "too_many_fields": _("too many fields"),
    "too_many_ids": _("too many ids"),
    "validation_error": _("invalid input"),
    # Row and field errors of imports and forms.
    "encoding": _("not readable as UTF-8 or GB18030 text"),
    "format": _("not a file of the expected format"),
    "missing_field": _("required value missing"),
    "missing_column": _("required column missing"),
    "unknown_column": _("unknown column"),
    "duplicate_column": _("column appears twice"),
    "column_count": _("wrong number of columns"),
    "malformed_row": _("malformed row"),
    "duplicate_code": _("code appears twice"),
    "duplicate_row": _("row appears twice"),
    "duplicate": _("duplicate"),
    "unknown_category": _("unknown payment category"),
    "unknown_successor": _("unknown successor code"),
    "unknown_region": _("unknown pooling region"),
    "unknown_province": _("unknown province"),
    "province_unknown": _("unknown province"),
    "region_unknown": _("unknown pooling region"),
    "unknown_disease": _("unknown disease"),
    "system_unknown": _("unknown code system"),
    "concept_map_unknown": _("unknown concept map"),
    "date_format": _("not a date (YYYY-MM-DD)"),
    "period_format": _("not a month (YYYY-MM)"),
    "money_format": _("not an amount of money"),
    "count_format": _("not a whole number"),
    "not_fen": _("not a whole number of fen"),
    "not_positive": _("must be more than zero"),
    "negative": _("must not be negative"),
    "required": _("required"),
    "empty": _("empty"),
    "invalid": _("invalid"),
    "invalid_choice": _("not one of the choices"),
    "max_length": _("too long"),
    "not_a_list": _("not a list"),
    "unique": _("already exists"),
    # Kinds of background jobs (apps/core/jobs.py).
    "catalog.import": _("catalog file import"),
    "hospitals.mappings": _("hospital code mapping upload"),
    "pooling.adjustment_run": _("risk adjustment run"),
    "pooling.figures_import": _("region figures import"),
    "reconciliation.import": _("settlement file import"),
    "reconciliation.run": _("reconciliation run"),
    # Coarse webhook delivery errors hospitals and staff read.
    "timeout": _("the receiver did not answer in time"),
    "connection_failed": _("could not connect to the receiver"),
    "endpoint_disabled": _("the endpoint is disabled"),
}


def code_label(code: str) -> str:
    """The label people read for ``code`` (the code itself when it has none)."""
    label = CODE_LABELS.get(code)
    return str(label) if label is not None else code


def error_tags(exc: DomainError) -> str:
    """The message's extra CSS class, ``code-<code>``: the stable code stays in the page for
    scripts and tests while people read the label."""
    return f"code-{exc.code}"


def error_message(exc: DomainError, *, subject: str = "") -> str:
    """An admin message for a refusal: what it is about, the code's label, then the service's detail."""
    text = f"{code_label(exc.code)}: {exc.detail}"
    return f"{subject}: {text}" if subject else text

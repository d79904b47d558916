"""One label per stable code, for people: pre-check reasons, error codes of the services, row
errors of imports and coarse delivery errors. The API keeps answering with the codes (its
contract); pages, admin messages and job reports show ``code_label(code)`` (template filter
``code_label`` in ``portal_labels``), in the visitor's language. A code without a label here
is shown as itself: add its label here (and its translation), never a second mapping."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .errors import DomainError, localized

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
    "code_mismatch": _("the code in the body is not the one the address names"),
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


# Reasons the services write themselves (history rows, audit events) when a step has no person's
# reason: stored in English (the audit trail does not change with the reader), read through these
# labels in the reader's language. A person's own words are shown as typed.
SYSTEM_REASONS: dict[str, Any] = {
    "account opened": pgettext_lazy("stored reason", "account opened"),
    "acknowledged by hospital": pgettext_lazy("stored reason", "acknowledged by the hospital"),
    "admin": pgettext_lazy("stored reason", "in admin"),
    "approved": pgettext_lazy("stored reason", "approved"),
    "area rates imported": pgettext_lazy("stored reason", "area rates imported"),
    "completed": pgettext_lazy("stored reason", "completed"),
    "created": pgettext_lazy("stored reason", "created"),
    "deleted": pgettext_lazy("stored reason", "deleted"),
    "deleted in admin": pgettext_lazy("stored reason", "deleted in admin"),
    "drafted": pgettext_lazy("stored reason", "drafted"),
    "edited in admin": pgettext_lazy("stored reason", "edited in admin"),
    "endpoint deleted": pgettext_lazy("stored reason", "endpoint deleted"),
    "endpoint re-enabled": pgettext_lazy("stored reason", "endpoint re-enabled"),
    "endpoint registered": pgettext_lazy("stored reason", "endpoint registered"),
    "failing continuously for 5 days": pgettext_lazy("stored reason", "failing continuously for 5 days"),
    "figures entered": pgettext_lazy("stored reason", "figures entered"),
    "finished": pgettext_lazy("stored reason", "finished"),
    "groups imported": pgettext_lazy("stored reason", "groups imported"),
    "issued": pgettext_lazy("stored reason", "issued"),
    "name in Chinese only (issue 17)": pgettext_lazy("stored reason", "name in Chinese only"),
    "proposed": pgettext_lazy("stored reason", "proposed"),
    "published": pgettext_lazy("stored reason", "published"),
    "receiver answered 410 Gone": pgettext_lazy("stored reason", "the receiver answered 410 Gone"),
    "registered in admin": pgettext_lazy("stored reason", "registered in admin"),
    "replayed": pgettext_lazy("stored reason", "replayed"),
    "revoked by the hospital": pgettext_lazy("stored reason", "revoked by the hospital"),
    "revoked in admin": pgettext_lazy("stored reason", "revoked in admin"),
    "role changed in admin": pgettext_lazy("stored reason", "role changed in admin"),
    "run": pgettext_lazy("stored reason", "run"),
    "secret rotated, old secret retired now": pgettext_lazy("stored reason", "secret rotated, old secret retired now"),
    "set in admin": pgettext_lazy("stored reason", "set in admin"),
    "started": pgettext_lazy("stored reason", "started"),
    "submitted": pgettext_lazy("stored reason", "submitted"),
    "superseded by a run on changed inputs": pgettext_lazy("stored reason", "superseded by a run on changed inputs"),
}
# Texts the processes write with figures in them (reasons, transfer memos): the pattern and the
# label it is read as. The stored text stays as written (memos are part of a proposal's
# fingerprint, so reruns must write the same bytes); only the reading is translated.
SYSTEM_TEXTS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^reconciliation run #(?P<id>\d+)$"), _("reconciliation run #%(id)s")),
    (re.compile(r"^risk adjustment run #(?P<id>\d+)$"), _("risk adjustment run #%(id)s")),
    (
        re.compile(r"^superseded: the inputs of risk adjustment run #(?P<id>\d+) changed$"),
        _("superseded: the inputs of risk adjustment run #%(id)s changed"),
    ),
    (
        re.compile(r"^(?P<period>\d{4}-\d{2}) risk adjustment: (?P<code>\S+) pays (?P<share>\S+) of fund income to (?P<scope>\S+)$"),
        _("%(period)s risk adjustment: %(code)s pays %(share)s of its fund income to %(scope)s"),
    ),
    (
        re.compile(r"^(?P<period>\d{4}-\d{2}) risk adjustment: (?P<scope>\S+) allocates to (?P<code>\S+) \(weight (?P<weight>[0-9.]+)\)$"),
        _("%(period)s risk adjustment: %(scope)s allocates to %(code)s (weight %(weight)s)"),
    ),
    (
        re.compile(r"^reconciliation (?P<period>\d{4}-\d{2}): (?P<payer>\S+) pays (?P<payee>\S+) \(net\)$"),
        _("reconciliation %(period)s: %(payer)s pays %(payee)s (net)"),
    ),
    (re.compile(r"^fund income$"), _("fund income")),
    (
        re.compile(r"^projected advance (?P<projected>\S+) below the threshold (?P<threshold>\S+)$"),
        _("projected advance %(projected)s below the threshold %(threshold)s"),
    ),
    (re.compile(r"^reversal of #(?P<id>\d+): (?P<reason>.*)$"), _("reversal of #%(id)s: %(reason)s")),
    (
        re.compile(r"^top-up of the advance to (?P<amount>\S+) after the (?P<period>\d{4}-\d{2}) clearing$"),
        _("top-up of the advance to %(amount)s after the %(period)s clearing"),
    ),
    (re.compile(r"^top-up of the advance to (?P<amount>\S+)$"), _("top-up of the advance to %(amount)s")),
    (
        re.compile(r"^consolidation of (?P<unit>\S+) into the provincial fund \(change #(?P<id>\d+)\)$"),
        _("consolidation of %(unit)s into the provincial fund (change #%(id)s)"),
    ),
]
NATIONAL_SCOPE = "national"


def reason_label(reason: str) -> str:
    """A stored reason or memo as people read it: the label of a text the system wrote (its
    figures kept), else the text as typed."""
    label = SYSTEM_REASONS.get(reason)
    if label is not None:
        return str(label)
    for pattern, text in SYSTEM_TEXTS:
        match = pattern.match(reason or "")
        if match:
            params = {k: (str(_("national")) if v == NATIONAL_SCOPE else v) for k, v in match.groupdict().items()}
            return str(text) % params
    return reason


memo_label = reason_label

HOSPITAL_ACTOR = re.compile(r"^hospital (?P<code>\S+)$")


def actor_label(label: str) -> str:
    """Who acted, as people read it: users by name; the system and hospitals (API keys) by label."""
    if label == "system":
        return str(_("system"))
    hospital = HOSPITAL_ACTOR.match(label or "")
    if hospital:
        return str(_("hospital %(code)s") % {"code": hospital.group("code")})
    return label


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
    text = f"{code_label(exc.code)}: {exc.localized()}"
    return f"{subject}: {text}" if subject else text


def row_error_label(error: dict[str, Any]) -> str:
    """One row error of an upload as a clerk reads it: line, column, the code's label and the
    message, in her language."""
    shown = localized(error)
    return str(_("line %(line)s [%(column)s] %(label)s: %(message)s")) % {
        "line": shown.get("line", ""),
        "column": shown.get("column", ""),
        "label": code_label(shown.get("code", "")),
        "message": shown.get("message", ""),
    }

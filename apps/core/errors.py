"""Domain errors: raised by services, turned into the API's error envelope by the API layer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import translation

# Where a stored text (a job's row errors, its detail) keeps its other languages: beside the
# English text under the same key with this suffix, e.g. ``message`` and ``message_i18n``.
I18N_SUFFIX = "_i18n"


class DomainError(Exception):
    """An error a user can act on. ``code`` is stable snake_case; ``status`` the HTTP status.

    ``detail`` may be a lazy translation (``gettext_lazy``, ``format_lazy``): ``self.detail`` is
    then its English text (what API clients, job reports, logs and commands have always read)
    and ``localized()`` the text in the reader's language (admin messages, and API answers to a
    request that asks for Chinese)."""

    status = 400
    code = "validation_error"

    def __init__(self, detail: Any, *, code: str | None = None, errors: list[dict[str, Any]] | None = None) -> None:
        self.message = detail
        with translation.override("en"):
            self.detail = str(detail)
        super().__init__(self.detail)
        if code:
            self.code = code
        self.errors = errors or []

    def localized(self) -> str:
        """The detail in the active language (English where no translation exists)."""
        return str(self.message)


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"


class NotAuthenticated(DomainError):
    """Credentials missing or wrong (401)."""

    status = 401
    code = "not_authenticated"


class LockedOut(DomainError):
    """Too many failed logins for this username from this address (django-axes): 429."""

    status = 429
    code = "locked_out"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """A workflow rule refused the action (409)."""

    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "permission_denied"


def english(text: Any) -> str:
    """``text`` (a lazy translation or a plain str) in English: what is stored and what programs read."""
    with translation.override("en"):
        return str(text)


def in_languages(key: str, text: Any) -> dict[str, Any]:
    """``{key: English, key_i18n: {language: text}}`` for a text stored now and read later in
    the reader's language (a Celery worker does not know who will read a job's errors)."""
    others = {}
    for language, _name in settings.LANGUAGES:
        if language != "en":
            with translation.override(language):
                others[language] = str(text)
    return {key: english(text), key + I18N_SUFFIX: others}


def localized(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored dict with each text in the active language (English where it has no other) and
    the other languages dropped: what a page, a CSV or an API answer shows."""
    language = translation.get_language() or "en"
    shown = {key: value for key, value in stored.items() if not key.endswith(I18N_SUFFIX)}
    for key, value in stored.items():
        if key.endswith(I18N_SUFFIX) and isinstance(value, dict) and value.get(language):
            shown[key.removesuffix(I18N_SUFFIX)] = value[language]
    return shown


def require_reason(reason: str, *, detail: Any) -> None:
    """Refuse a workflow step that must say why (rejections, voids, reversals): 400 with field ``reason``."""
    if not reason.strip():
        raise ValidationFailed(detail, errors=[{"field": "reason", "code": "required", "message": "say why"}])

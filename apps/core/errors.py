"""Domain errors: raised by services, turned into the API's error envelope by the API layer."""

from __future__ import annotations

from typing import Any

from django.utils import translation


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


def require_reason(reason: str, *, detail: Any) -> None:
    """Refuse a workflow step that must say why (rejections, voids, reversals): 400 with field ``reason``."""
    if not reason.strip():
        raise ValidationFailed(detail, errors=[{"field": "reason", "code": "required", "message": "say why"}])

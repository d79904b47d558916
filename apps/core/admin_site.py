"""The portal's admin site: site header, a home block linking the staff pages, and OTP for
finance checkers who enrolled a TOTP device (they must pass OTP to use the admin at all)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .otp import otp_devices, otp_required

__all__ = ["PortalAdminSite", "PortalLoginForm", "otp_devices", "otp_required"]


class PortalLoginForm(AdminAuthenticationForm):
    """Password login; an enrolled finance checker also enters the 6-digit code of her app."""

    otp_token = forms.CharField(
        label=_("One-time code"),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text=_("Finance checkers who enrolled an authenticator app enter its current code."),
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": _("Enter the one-time code of your authenticator app."),
        "otp_invalid": _("The one-time code is wrong or expired."),
        "otp_throttled": _("Too many wrong codes; wait a moment and try again."),
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        user = self.get_user()
        if user is None or not otp_required(user):
            return data
        token = (data.get("otp_token") or "").strip()
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        for device in otp_devices(user):
            allowed, _extra = device.verify_is_allowed()
            if not allowed:
                raise forms.ValidationError(self.error_messages["otp_throttled"], code="otp_throttled")
            if device.verify_token(token):
                # django_otp's user_logged_in receiver stores the verified device in the session.
                user.otp_device = device  # type: ignore[attr-defined]
                return data
        raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")


class PortalAdminSite(admin.AdminSite):
    site_header = _("National catalog governance portal")
    site_title = _("Catalog portal")
    index_title = _("Administration")
    login_form = PortalLoginForm
    login_template = "admin/portal_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        if otp_required(request.user):
            is_verified = getattr(request.user, "is_verified", None)
            return bool(is_verified and is_verified())
        return True

"""Chinese for the admin pages of third-party apps that ship none.

django-axes (login attempts) marks its strings for translation but has no zh_Hans catalog: its
msgids are listed here with ``gettext_noop`` so ``makemessages`` keeps them in our catalog, which
Django consults before the app's own. django-otp's TOTP device model marks nothing, so
``label_totp_devices`` (called from ``CoreConfig.ready``) hands its labels to gettext at start-up;
they are display attributes only (the lazy label equals the English text, so migrations see no
change)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

AXES_MSGIDS = (
    gettext_noop("Access Attempt"),
    gettext_noop("Access lock out"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("Attempt Time"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Expires At"),
    gettext_noop("Failed Logins"),
    gettext_noop("Form Data"),
    gettext_noop("GET Data"),
    gettext_noop("HTTP Accept"),
    gettext_noop("IP Address"),
    gettext_noop("Locked Out"),
    gettext_noop("Logout Time"),
    gettext_noop("Meta Data"),
    gettext_noop("Not set"),
    gettext_noop("POST Data"),
    gettext_noop("Path"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("User Agent"),
    gettext_noop("Username"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
)

# Strings of Django's admin templates (5.1+) and of django-celery-beat that their zh_Hans catalogs
# lack; our catalog (LOCALE_PATHS) is consulted first, so listing them here gives them Chinese.
DJANGO_ADMIN_MSGIDS = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    gettext_noop("Hold down “Control”, or “Command” on a Mac, to select more than one."),
)
CELERY_BEAT_MSGIDS = (
    gettext_noop('Cron Minutes to Run. Use "*" for "all". (Example: "0,30")'),
    gettext_noop('Cron Hours to Run. Use "*" for "all". (Example: "8,20")'),
    gettext_noop('Cron Days Of The Month to Run. Use "*" for "all". (Example: "1,15")'),
    gettext_noop("Schedule"),
    gettext_noop("Arguments"),
    gettext_noop("Execution Options"),
    gettext_noop("Periodic Tasks Using This Schedule"),
    gettext_noop('Cron Months (1-12) Of The Year to Run. Use "*" for "all". (Example: "1,12")'),
    gettext_noop('Cron Days Of The Week to Run. Use "*" for "all", Sunday is 0 or 7, Monday is 1. (Example: "0,5")'),
)
# django-celery-beat's task name field is not marked for translation (same English text, so
# migrations see no change).
PERIODIC_TASK_LABELS = {"task": _("Task Name")}

# Apps without a verbose name of their own (the admin shows their label, e.g. AXES, OTP_TOTP).
APP_NAMES = {
    "axes": _("Login protection"),
    "otp_totp": _("One-time passwords (TOTP)"),
}

TOTP_DEVICE_LABELS = {
    "_meta": (_("TOTP device"), _("TOTP devices")),
    "user": (_("user"), _("The user that this device belongs to.")),
    "name": (_("name"), _("The human-readable name of this device.")),
    "confirmed": (_("confirmed"), _("Is this device ready for use?")),
    "throttling_failure_timestamp": (
        _("throttling failure timestamp"),
        _("A timestamp of the last failed verification attempt. Null if last attempt succeeded."),
    ),
    "throttling_failure_count": (_("throttling failure count"), _("Number of successive failed attempts.")),
    "created_at": (_("created at"), _("The date and time when this device was initially created in the system.")),
    "last_used_at": (_("last used at"), _("The most recent date and time this device was used.")),
    "key": (_("key"), _("A hex-encoded secret key of up to 40 bytes.")),
    "step": (_("step"), _("The time step in seconds.")),
    "t0": (_("t0"), _("The Unix time at which to begin counting steps.")),
    "digits": (_("digits"), _("The number of digits to expect in a token.")),
    "tolerance": (_("tolerance"), _("The number of time steps in the past or future to allow.")),
    "drift": (_("drift"), _("The number of time steps the prover is known to deviate from our clock.")),
    "last_t": (_("last t"), _("The t value of the latest verified token. The next token must be at a higher time step.")),
}


def label_third_party_apps() -> None:
    """Chinese names for third-party apps and the fields they do not mark (display only)."""
    from django.apps import apps

    for label, name in APP_NAMES.items():
        if label in apps.app_configs:
            apps.get_app_config(label).verbose_name = name
    if "django_celery_beat" in apps.app_configs:
        from django_celery_beat.models import PeriodicTask

        for field_name, field_label in PERIODIC_TASK_LABELS.items():
            PeriodicTask._meta.get_field(field_name).verbose_name = field_label  # type: ignore[union-attr]


def label_totp_devices() -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    opts = TOTPDevice._meta
    opts.verbose_name, opts.verbose_name_plural = TOTP_DEVICE_LABELS["_meta"]
    for field in opts.get_fields():
        labels = TOTP_DEVICE_LABELS.get(field.name)
        if labels is not None and field.name != "_meta":
            field.verbose_name, field.help_text = labels  # type: ignore[union-attr]

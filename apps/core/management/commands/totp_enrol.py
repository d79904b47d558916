"""Give a staff user a confirmed TOTP device and print the otpauth:// URL for her authenticator app."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Enrol NAME for TOTP (finance checkers with a device must then enter its code to log in)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--device", default="authenticator", help="device name shown in admin")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        device = TOTPDevice.objects.create(user=user, name=options["device"], confirmed=True)
        self.stdout.write(device.config_url)

"""record_fund_income --province CODE [--region CODE] --amount-fen N --proposer USER --approver USER [--memo TEXT]"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.errors import DomainError
from apps.core.otp import mark_otp_verified, otp_verify
from apps.pooling.services import fund_income_record


class Command(BaseCommand):
    help = "Record fund income as a maker-checker transfer from the province's external account; prints the transfer id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--province", required=True)
        parser.add_argument("--region", default="")
        parser.add_argument("--amount-fen", type=int, required=True)
        parser.add_argument("--proposer", required=True)
        parser.add_argument("--approver", required=True)
        parser.add_argument("--memo", default="")
        parser.add_argument("--idempotency-key", default="", help="repeat a run safely (default: a new key per run)")
        parser.add_argument("--otp", default="", help="the approver's current one-time code (needed once she enrolled a TOTP device)")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        users = {}
        for role in ("proposer", "approver"):
            user = User.objects.filter(username=options[role]).first()
            if user is None:
                raise CommandError(f"--{role}: no user {options[role]!r}")
            users[role] = user
        if options["otp"]:
            outcome = otp_verify(user=users["approver"], code=options["otp"])
            if outcome != "ok":
                raise CommandError(
                    f"--otp: the approver's one-time code is {'refused for now: too many wrong codes' if outcome == 'throttled' else 'wrong or expired'}"
                )
            mark_otp_verified(users["approver"])
        try:
            transfer = fund_income_record(
                province_code=options["province"],
                region_code=options["region"],
                amount_fen=options["amount_fen"],
                proposer=users["proposer"],
                approver=users["approver"],
                memo=options["memo"],
                idempotency_key=options["idempotency_key"] or f"income:{uuid.uuid4()}",
            )
        except DomainError as exc:
            raise CommandError(f"{exc.detail} ({exc.code})") from exc
        self.stdout.write(str(transfer.pk))

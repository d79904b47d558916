from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import FenField, TextField
from apps.pooling.models import FundAccount, LedgerEntry, Transfer


class AccountSerializer(serializers.ModelSerializer[FundAccount]):
    province = serializers.SlugRelatedField(slug_field="code", read_only=True)
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = FundAccount
        fields = ["id", "kind", "province", "region", "name", "balance_fen", "overdraft_limit_fen"]
        read_only_fields = fields


class EntrySerializer(serializers.ModelSerializer[LedgerEntry]):
    class Meta:
        model = LedgerEntry
        fields = ["id", "account", "transfer", "amount_fen", "posted_at"]
        read_only_fields = fields


class TransferSerializer(serializers.ModelSerializer[Transfer]):
    proposed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    closed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "state",
            "from_account",
            "to_account",
            "amount_fen",
            "memo",
            "proposed_by",
            "approved_by",
            "closed_by",
            "reason",
            "idempotency_key",
            "reverses",
            "created_at",
            "approved_at",
            "posted_at",
            "closed_at",
        ]
        read_only_fields = fields


class TransferProposeSerializer(serializers.Serializer[Any]):
    from_account = serializers.PrimaryKeyRelatedField(queryset=FundAccount.objects.select_related("province"))
    to_account = serializers.PrimaryKeyRelatedField(queryset=FundAccount.objects.select_related("province"))
    amount_fen = FenField(min_value=1, max_value=2**63 - 1)
    memo = TextField(max_length=255, required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer[Any]):
    reason = TextField(max_length=2000)


class StatementQuerySerializer(serializers.Serializer[Any]):
    """``?from=DATE&to=DATE&format=json|csv|pdf`` of an account statement (``from`` is a keyword in Python)."""

    vars()["from"] = serializers.DateField()
    to = serializers.DateField()
    format = serializers.ChoiceField(choices=["json", "csv", "pdf"], default="json")


class StatementEntrySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    posted_at = serializers.DateTimeField()
    transfer = serializers.IntegerField()
    counterpart_account = serializers.IntegerField()
    memo = serializers.CharField()
    amount_fen = serializers.IntegerField()
    balance_fen = serializers.IntegerField()


class StatementSerializer(serializers.Serializer[Any]):
    account = serializers.IntegerField()
    account_name = serializers.CharField()
    province = serializers.CharField()
    vars()["from"] = serializers.DateField()
    to = serializers.DateField()
    opening_balance_fen = serializers.IntegerField()
    entries = StatementEntrySerializer(many=True)
    closing_balance_fen = serializers.IntegerField()

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.core.api.fields import FenField
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
    memo = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=2000)

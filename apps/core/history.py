"""Set-based history: write simple-history rows with one INSERT ... SELECT instead of a save per row."""

from __future__ import annotations

from typing import Any

from django.db import connection, models
from django.utils import timezone


def history_bulk_record(
    *,
    model: type[models.Model],
    where_sql: str,
    params: list[Any],
    history_type: str,
    user_id: int | None,
    reason: str,
) -> int:
    """Record one history row per row of ``model`` matching ``where_sql``; returns the count.

    ``history_type`` is simple-history's '+' (created), '~' (changed) or '-' (deleted); for '-'
    call this before the rows are deleted.
    """
    historical = model.history.model  # type: ignore[attr-defined]
    columns = [str(f.column) for f in model._meta.concrete_fields]
    quote = connection.ops.quote_name
    target_cols = [*columns, "history_date", "history_change_reason", "history_type", "history_user_id"]
    select_cols = [quote(c) for c in columns]
    sql = (
        f"INSERT INTO {quote(historical._meta.db_table)} ({', '.join(quote(c) for c in target_cols)}) "
        f"SELECT {', '.join(select_cols)}, %s, %s, %s, %s FROM {quote(model._meta.db_table)} WHERE {where_sql}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), reason, history_type, user_id, *params])
        return int(cursor.rowcount)

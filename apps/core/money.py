"""Money is integer fen (分) everywhere; yuan only at the edges, for people."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN_PER_YUAN = 100
# PostgreSQL bigint; anything larger is refused before it reaches the database.
MAX_FEN = 2**63 - 1


class MoneyError(ValueError):
    pass


def format_yuan(fen: int) -> str:
    """12345 -> '¥123.45'; negative amounts keep their sign in front."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{yuan:,}.{rest:02d}"


def yuan_to_fen(raw: str | Decimal) -> int:
    """Parse a yuan amount with at most two decimals into fen; never goes through float."""
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {raw!r}") from exc
    fen = value * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise MoneyError(f"more than two decimals: {raw!r}")
    return check_fen(int(fen))


def check_fen(value: object) -> int:
    """Accept only a true integer within bigint range (no bool, no float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise MoneyError(f"amounts are integer fen, got {value!r}")
    if abs(value) > MAX_FEN:
        raise MoneyError("amount out of range")
    return value


def apply_ratio(fen: int, ratio: Decimal) -> int:
    """fen × ratio rounded half-up to a whole fen."""
    return int((Decimal(fen) * ratio).quantize(Decimal(1), rounding=ROUND_HALF_UP))

from django import template

from apps.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """Integer fen as yuan for the report pages (¥1,234.56)."""
    return "" if fen is None else format_yuan(int(fen))


@register.filter
def kind_label(kind: str) -> str:
    """The label people read for a discrepancy kind (the model's choices); the code when unknown."""
    from apps.reconciliation.models import Discrepancy

    try:
        return str(Discrepancy.Kind(kind).label)
    except ValueError:
        return kind

"""Search data of the catalog, kept beside the items and never inside their table.

``SearchTerm`` is a dictionary of every distinct text an item carries as name, generic name or
manufacturer: its case- and width-folded form and its pinyin initials (computed once per
distinct text with pypinyin, when an import, an edit or a publish first brings it in), with
trigram indexes. Real releases repeat a few tens of thousands of texts over hundreds of
thousands of items, so the trigram work happens on the dictionary, not on every item.

``ItemSearch`` is one narrow row per item of a published release: its code (C collation, so a
code prefix is an index range) and the ids of its three texts in the dictionary, written
set-based when the release is published (``apps.catalog.search``).
"""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import CatalogRelease


class SearchTerm(models.Model):
    text = models.TextField(unique=True, help_text=_("The text exactly as items carry it (NFC)."), verbose_name=_("text"))
    folded = models.TextField(help_text=_("lower(normalize(text, NFKC)): what a query is matched against."), verbose_name=_("folded"))
    initials = models.TextField(
        blank=True, default="", help_text=_("Pinyin initials, lower case (阿莫西林 → amxl)."), verbose_name=_("initials")
    )

    class Meta:
        indexes = [
            GinIndex(fields=["folded"], opclasses=["gin_trgm_ops"], name="catalog_term_folded_trgm"),
            GinIndex(fields=["initials"], opclasses=["gin_trgm_ops"], name="catalog_term_initials_trgm"),
        ]
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")

    def __str__(self) -> str:
        return self.text


class ItemSearch(models.Model):
    """One item of a published release as search sees it (PostgreSQL triggers keep these rows
    unchanged once written, like the release's items)."""

    pk = models.CompositePrimaryKey("release", "code")
    # No per-row foreign-key check (500,000 of them cost a publish seconds): a statement trigger
    # checks once per INSERT that every row belongs to a published release (migration 0005).
    release = models.ForeignKey(
        CatalogRelease, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False, verbose_name=_("release")
    )
    code = models.CharField(max_length=32, db_collation="C", verbose_name=_("code"))
    kind = models.CharField(max_length=16, verbose_name=_("kind"))
    category = models.CharField(max_length=2, verbose_name=_("category"))
    # No foreign-key constraints to the dictionary: terms are never deleted, and checking three
    # keys per row would cost a 500,000-item publish about a second for nothing.
    name_term = models.BigIntegerField(null=True, verbose_name=_("name term"))
    # NULL when the generic name adds nothing to the name (its folded text and initials are
    # inside the name's): a query matching it matches the name, so it is never looked at.
    generic_term = models.BigIntegerField(null=True, verbose_name=_("generic term"))
    maker_term = models.BigIntegerField(null=True, verbose_name=_("maker term"))

    class Meta:
        indexes = [
            # Term, then code: one term's items come out in code order, so a page of them is a
            # few index pages however many items carry the term.
            models.Index(fields=["release", "name_term", "code"], name="catalog_itemsearch_name_idx"),
            models.Index(
                fields=["release", "generic_term", "code"],
                name="catalog_itemsearch_generic_idx",
                condition=models.Q(generic_term__isnull=False),  # most generic names add nothing
            ),
            models.Index(fields=["release", "maker_term", "code"], name="catalog_itemsearch_maker_idx"),
        ]
        verbose_name = _("item search")
        verbose_name_plural = _("item searches")

    def __str__(self) -> str:
        return f"{self.release_id} {self.code}"


class SearchTermUse(models.Model):
    """How many items of a published release carry a term as name, generic name (as kept in
    ItemSearch) and manufacturer: a query knows from these counts, before it reads any item,
    whether a rank holds a handful of items (read them by term and sort) or thousands (walk the
    release in code order until the page is full)."""

    pk = models.CompositePrimaryKey("release", "term_id")
    release = models.ForeignKey(
        CatalogRelease, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False, verbose_name=_("release")
    )
    term_id = models.BigIntegerField(verbose_name=_("term id"))
    names = models.PositiveIntegerField(default=0, verbose_name=_("names"))
    generics = models.PositiveIntegerField(default=0, verbose_name=_("generics"))
    makers = models.PositiveIntegerField(default=0, verbose_name=_("makers"))

    class Meta:
        verbose_name = _("search term use")
        verbose_name_plural = _("search term uses")

    def __str__(self) -> str:
        return f"{self.release_id} term {self.term_id}: {self.names}/{self.generics}/{self.makers}"

"""Every string people read has its Chinese: the catalog is re-extracted from the source
(``makemessages``, as a translator would run it) into a copy of the .po, and any msgid that is
new (untranslated) or only guessed (fuzzy) fails the test with its text and where it is used."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
SOURCES = ("apps", "config", "templates")
IGNORE = ("-i", ".venv/*", "-i", "var/*", "-i", "tests/*", "-i", "benchmarks/*", "-i", "scripts/*")


def _entries(po_text: str) -> list[dict[str, str]]:
    """The entries of a .po file: flags, references, msgid, msgstr (plural forms joined)."""
    entries = []
    for block in re.split(r"\n\s*\n", po_text):
        lines = block.strip().splitlines()
        if not lines or all(line.startswith("#~") for line in lines):
            continue  # obsolete
        entry: dict[str, str] = {"flags": "", "refs": "", "msgid": "", "msgstr": ""}
        key = ""
        for line in lines:
            if line.startswith("#,"):
                entry["flags"] += line[2:]
            elif line.startswith("#:"):
                entry["refs"] += line[2:]
            elif line.startswith("#"):
                continue
            else:
                match = re.match(r'^(msgid_plural|msgid|msgstr(?:\[\d+\])?|msgctxt)\s+(".*")$', line)
                if match:
                    key = "msgstr" if match.group(1).startswith("msgstr") else match.group(1)
                    line = match.group(2)
                if key in ("msgid", "msgstr"):
                    entry[key] += eval(line)  # a C string literal the .po format writes; Python reads it alike
        entries.append(entry)
    return [e for e in entries if e["msgid"]]


def test_committed_catalog_has_no_empty_or_fuzzy_translation():
    missing = [e["msgid"] for e in _entries(PO.read_text(encoding="utf-8")) if not e["msgstr"] or "fuzzy" in e["flags"]]
    assert missing == []


def test_every_msgid_in_the_source_has_a_chinese_translation(tmp_path):
    require_service("GNU gettext", shutil.which("xgettext") is not None and shutil.which("msgmerge") is not None, "apt-get install gettext")
    # A scratch project: the sources as symlinks, a copy of the catalog; makemessages merges into the copy.
    for name in SOURCES:
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "locale", tmp_path / "locale")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "makemessages", "--symlinks", "-l", "zh_Hans", *IGNORE],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    entries = _entries((tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8"))
    untranslated = [f"{e['msgid']!r} ({e['refs'].strip()})" for e in entries if not e["msgstr"] or "fuzzy" in e["flags"]]
    assert untranslated == [], "add these to locale/zh_Hans/LC_MESSAGES/django.po, then msgfmt"


@pytest.mark.parametrize(("language", "expected"), [("zh-hans", "目录版本"), ("en", "Catalog releases")])
def test_the_compiled_catalog_is_current_and_english_stays_available(language, expected):
    from django.utils import translation

    from apps.catalog.models import CatalogRelease

    with translation.override(language):
        assert str(CatalogRelease._meta.verbose_name_plural).capitalize() == expected


# One Chinese word per domain term: a clerk reading 划拨 on one page and 转账 on the next cannot
# tell whether they are the same thing. The fund-transfer term of the adjustment funds is 划拨.
ONE_TERM = {"transfer": ("划拨", ("转账", "转移", "调拨"))}


@pytest.mark.parametrize("term", sorted(ONE_TERM))
def test_a_domain_term_has_one_translation_throughout_the_catalog(term):
    chosen, others = ONE_TERM[term]
    mixed = [(e["msgid"], e["msgstr"]) for e in _entries(PO.read_text(encoding="utf-8")) if any(o in e["msgstr"] for o in others)]
    assert mixed == [], f"{term} is {chosen} everywhere"
    assert any(chosen in e["msgstr"] for e in _entries(PO.read_text(encoding="utf-8")) if term in e["msgid"].lower())


def test_templates_and_sources_write_no_second_word_for_a_term():
    offenders = []
    for base in ("apps", "templates"):
        for path in (ROOT / base).rglob("*"):
            if path.suffix in (".py", ".html", ".txt", ".js") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="ignore")
                offenders += [f"{path.relative_to(ROOT)}: {o}" for _c, (_t, others) in ONE_TERM.items() for o in others if o in text]
    assert offenders == []

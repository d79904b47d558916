"""Code normalisation and validation (DOMAIN.md, "Code formats").

Codes are normalised with NFKC (full-width digits and letters become ASCII), every kind of
white space is removed and letters are upper-cased. Display text is kept in NFC.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.utils.translation import gettext_noop

_WHITESPACE = re.compile(r"\s+", re.UNICODE)

PROVINCE_PREFIXES = frozenset(
    [f"{n}" for n in range(11, 16)]
    + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)]
    + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)]
    + [f"{n}" for n in range(61, 66)]
)


def _prefixes_pattern(extra: str = "") -> str:
    return "|".join(sorted(PROVINCE_PREFIXES | ({extra} if extra else set())))


def province_code_pattern(*, optional: bool = False) -> str:
    """What ``validate_province_code`` accepts as written (before normalisation), for API schemas;
    ``optional``: the empty string too (a filter left out)."""
    return f"^(?:(?:{_prefixes_pattern()})0000|{settings.XPCC_PROVINCE_CODE}){'?' if optional else ''}$"


def region_code_pattern() -> str:
    """A city-level code (ends 00, not 0000) as ``validate_region_code`` accepts it."""
    return f"^(?:{_prefixes_pattern()})(?:0[1-9]|[1-9][0-9])00$"


def institution_code_pattern() -> str:
    return f"^[HP](?:{_prefixes_pattern(settings.XPCC_PROVINCE_CODE[:2])})[0-9]{{9}}$"


# The layouts of national catalog codes, written once in the regex dialect Python, PostgreSQL
# and ECMA-262 share ([0-9], no \d): the checks below, the importer's SQL
# (catalog.importers.sql) and the API schemas' pattern (catalog_code_pattern) are made from them.
# A consumable's class and subclass (2 + 2 digits) are numbered from 01: 00 means a malformed row.
_CONSUMABLE_CLASS = "(0[1-9]|[1-9][0-9])"
DRUG_LAYOUT = "[XZ][A-Z][0-9]{2}[A-Z]{2}[A-Z][0-9]{3}[A-Z][0-9]{3}[0-9]{9}"
# Older 20-character drug codes are only accepted as former codes (aliases); their inner
# layout is not published, so only the shape is checked.
FORMER_DRUG_LAYOUT = "[XZ][A-Z0-9]{19}"
TCM_PIECE_LAYOUT = "T[0-9A-Z]{9}"
SERVICE_LAYOUT = "[0-9]{15}(-[0-9]{1,6})?"
CONSUMABLE_LAYOUT = f"C{_CONSUMABLE_CLASS}{_CONSUMABLE_CLASS}[0-9]{{10}}([0-9]{{5}}([0-9]{{7}})?)?"

DRUG_CODE = re.compile(f"^{DRUG_LAYOUT}$")
FORMER_DRUG_CODE = re.compile(f"^{FORMER_DRUG_LAYOUT}$")
TCM_PIECE_CODE = re.compile(f"^{TCM_PIECE_LAYOUT}$")
SERVICE_CODE = re.compile(f"^{SERVICE_LAYOUT}$")
CONSUMABLE_CODE = re.compile(f"^{CONSUMABLE_LAYOUT}$")


def _either_case(layout: str) -> str:
    """``layout`` with its letters in either case: a bracket gets the lower-case of what it
    holds ([A-Z] -> [A-Za-z]), a capital outside one becomes a bracket (T -> [Tt])."""

    def widen(match: re.Match[str]) -> str:
        inside = match[1] if match[1] is not None else match[0]
        lower = "".join(letters.lower() for letters in re.findall(r"[A-Z]-[A-Z]|[A-Z]", inside))
        return f"[{inside}{lower}]" if lower else match[0]

    return re.sub(r"\[([^\]]*)\]|[A-Z]", widen, layout)


def catalog_code_pattern(*, former: bool = False) -> str:
    """The schema pattern (ECMA-262 and Python alike) of a national catalog code as a client may
    send it: the layouts ``catalog_code_kind`` accepts, letters in either case (codes are
    upper-cased); ``former`` adds the older 20-character drug codes, accepted as replaced codes."""
    layouts = [DRUG_LAYOUT, TCM_PIECE_LAYOUT, SERVICE_LAYOUT, CONSUMABLE_LAYOUT, *([FORMER_DRUG_LAYOUT] if former else [])]
    return "^(" + "|".join(_either_case(layout) for layout in layouts) + ")$"


ICD10_CODE = re.compile(r"^[A-Z]\d{2}\.\d{3}(x\d{3})?(\+[A-Z]\d{2}(\.\d{1,2})?\*)?$")
# The two help texts stay plain English (a CodeError's reason, a claim warning's message); marked
# for makemessages so that the reference imports' row errors (apps.core.bulk.sql_text) read in Chinese.
ICD10_HELP = gettext_noop("ICD-10 (NHSA 2.0) codes look like A00.000, A00.000x001 or A01.000x005+J17.0*")
# DOMAIN.md writes procedures as 01, 01.2 or 01.23 (x001 extension); the NHSA edition (医保版)
# lists its entries with four digits after the point (36.0601, 60.2900x004), so both are accepted.
ICD9_PROCEDURE_CODE = re.compile(r"^\d{2}(\.\d{1,4}(x\d{3})?)?$")
ICD9_PROCEDURE_HELP = gettext_noop("ICD-9-CM-3 (NHSA edition) procedure codes look like 36, 36.0, 36.06, 36.0601 or 60.2900x004")
INSTITUTION_CODE = re.compile(r"^[HP]\d{11}$")

KIND_DRUG = "drug"
KIND_TCM_PIECE = "tcm_piece"
KIND_SERVICE = "service"
KIND_CONSUMABLE = "consumable"


class CodeError(ValueError):
    """A code that does not match its format; ``reason`` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code!r}: {reason}")
        self.code = code
        self.reason = reason


def normalise_code(raw: str) -> str:
    """NFKC, strip every white space, upper-case: what every code goes through first."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", raw)).upper()


def normalise_text(raw: str) -> str:
    """Display text: NFC and trimmed, nothing else."""
    return unicodedata.normalize("NFC", raw).strip()


def _is_ascii(code: str) -> bool:
    # After NFKC, anything non-ASCII left (Cyrillic "А", Greek "Χ", ...) is a confusable.
    return code.isascii()


def catalog_code_kind(code: str) -> str:
    """Return the item kind a normalised national code belongs to, or raise CodeError."""
    if not code:
        raise CodeError(code, "code is empty")
    if not _is_ascii(code):
        raise CodeError(code, "code contains non-ASCII characters (look-alike letters?)")
    first = code[0]
    if first in "XZ":
        if DRUG_CODE.match(code):
            return KIND_DRUG
        raise CodeError(code, "drug codes are 23 characters: [XZ] + classification + 4-digit spec + 5-digit product")
    if first == "T":
        if TCM_PIECE_CODE.match(code):
            return KIND_TCM_PIECE
        raise CodeError(code, "TCM decoction piece codes are 10 characters starting with T")
    if first == "C":
        if CONSUMABLE_CODE.match(code):
            return KIND_CONSUMABLE
        raise CodeError(code, "consumable codes are C + 14, 19 or 26 digits with non-zero class digits")
    if first.isdigit():
        if SERVICE_CODE.match(code):
            return KIND_SERVICE
        raise CodeError(code, "medical service item codes are 15 digits, optionally -<local suffix>")
    raise CodeError(code, "unknown code prefix (expected X/Z drug, T TCM piece, C consumable, digits service)")


def validate_catalog_code(raw: str, *, expected_kind: str | None = None) -> str:
    """Normalise a national catalog code and check it; returns the normalised code."""
    code = normalise_code(raw)
    kind = catalog_code_kind(code)
    if expected_kind and kind != expected_kind:
        raise CodeError(code, f"a {kind} code cannot be used for a {expected_kind} item")
    return code


def is_former_drug_code(code: str) -> bool:
    return bool(FORMER_DRUG_CODE.match(code))


def consumable_category_path(code: str) -> str:
    """The 15-character category path (C + class/subclass/group/common name/material/feature)."""
    return code[:15]


def validate_province_code(raw: str) -> str:
    code = normalise_code(raw)
    if code == settings.XPCC_PROVINCE_CODE:
        return code
    if not (len(code) == 6 and code.isdigit()):
        raise CodeError(code, "province codes are 6 digits (GB/T 2260)")
    if code[:2] not in PROVINCE_PREFIXES:
        raise CodeError(code, "not a GB/T 2260 province prefix")
    if not code.endswith("0000"):
        raise CodeError(code, "a province-level code ends in 0000")
    return code


def validate_region_code(raw: str) -> str:
    code = normalise_code(raw)
    if not (len(code) == 6 and code.isdigit()) or code[:2] not in PROVINCE_PREFIXES:
        raise CodeError(code, "city / pooling region codes are 6 digits with a GB/T 2260 prefix")
    if not code.endswith("00") or code.endswith("0000"):
        raise CodeError(code, "a city-level code ends in 00 (but not 0000)")
    return code


def validate_institution_code(raw: str) -> str:
    code = normalise_code(raw)
    if not INSTITUTION_CODE.match(code):
        raise CodeError(code, "institution codes are H (hospital) or P (pharmacy) + 11 digits")
    if code[1:3] not in PROVINCE_PREFIXES and code[1:3] != settings.XPCC_PROVINCE_CODE[:2]:
        raise CodeError(code, "digits 2-3 must be a GB/T 2260 province prefix")
    return code


_ICD10_EXTENSION = re.compile(r"^([A-Z]\d{2}\.\d{3})X")


def normalise_icd10(raw: str) -> str:
    """ICD-10 codes upper-case, except the extension marker, which is a lower-case x."""
    code = normalise_code(raw)
    return _ICD10_EXTENSION.sub(r"\1x", code)


def validate_icd10(raw: str) -> str:
    code = normalise_icd10(raw)
    if not ICD10_CODE.match(code):
        raise CodeError(code, ICD10_HELP)
    return code


_ICD9_EXTENSION = re.compile(r"^(\d{2}\.\d{1,4})X")


def normalise_icd9_procedure(raw: str) -> str:
    """ICD-9-CM-3 codes as normalise_code makes them, with the extension marker a lower-case x."""
    return _ICD9_EXTENSION.sub(r"\1x", normalise_code(raw))


def validate_icd9_procedure(raw: str) -> str:
    code = normalise_icd9_procedure(raw)
    if not ICD9_PROCEDURE_CODE.match(code):
        raise CodeError(code, ICD9_PROCEDURE_HELP)
    return code


# An ICD-10 code prefix: a chapter letter, a category (E11), a sub-category (C34.1, E11.9) or a
# longer stem of a code (K35.800x0). Used by structured indications and disease lists.
ICD10_PREFIX = re.compile(r"^[A-Z](\d{1,2}(\.\d{0,3}(x\d{0,3})?)?)?$")
_PREFIX_SEPARATORS = re.compile(r"[;,、]+")


def parse_icd10_prefixes(raw: str) -> tuple[str, ...] | None:
    """The ICD-10 prefixes of a structured list ("C34;C50", "E10, E11", "I10、I11"), normalised
    like codes; None when the text is not such a list (free text stays text for people).

    Separators are ; , 、 (full-width forms become these under NFKC) and white space.
    """
    parts = [part for part in _PREFIX_SEPARATORS.split(unicodedata.normalize("NFKC", raw)) for part in part.split()]
    if not parts:
        return None
    prefixes = [normalise_icd10(part) for part in parts]
    if not all(ICD10_PREFIX.match(prefix) for prefix in prefixes):
        return None
    return tuple(dict.fromkeys(prefixes))


def icd10_matches(code: str, prefixes: tuple[str, ...]) -> bool:
    """True when a normalised ICD-10 code, or the asterisk code of a dagger/asterisk pair,
    starts with one of ``prefixes``."""
    main, _, asterisk = code.partition("+")
    return main.startswith(prefixes) or (bool(asterisk) and asterisk.rstrip("*").startswith(prefixes))

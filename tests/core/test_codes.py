import pytest
from django.test import override_settings

from apps.core.codes import CodeError, catalog_code_kind, normalise_code, validate_icd10, validate_institution_code, validate_province_code
from apps.core.money import MoneyError, apply_ratio, check_fen, format_yuan, yuan_to_fen


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("XA01ABD075A002010100483", "drug"),
        ("ｘａ０１ＡＢＤ０７５Ａ００２０１０１００４８３", "drug"),  # full-width, lower-case
        (" XA01 ABD075A002010100483\u3000", "drug"),
        ("T001700014", "tcm_piece"),
        ("001102000010000", "service"),
        ("001102000010000-01", "service"),
        ("C0101010010100103941", "consumable"),
        ("C01010100101001", "consumable"),
        ("C01010100101001039410000001", "consumable"),
    ],
)
def test_valid_codes_normalise_to_their_kind(raw, kind):
    assert catalog_code_kind(normalise_code(raw)) == kind


@pytest.mark.parametrize(
    "raw",
    [
        "XA01ABD075A00201010048",  # 22 chars
        "ХA01ABD075A002010100483",  # Cyrillic Х
        "C0001010010100103941",  # class 00
        "00110200001000",  # 14 digits
        "T00170001",
        "Q01ABD075A002010100483",
        "",
    ],
)
def test_invalid_codes_are_refused_with_a_reason(raw):
    with pytest.raises(CodeError) as err:
        catalog_code_kind(normalise_code(raw))
    assert err.value.reason


def test_province_codes_follow_gbt2260():
    assert validate_province_code("３１００００") == "310000"
    for bad in ("310100", "990000", "31000", "160000"):
        with pytest.raises(CodeError):
            validate_province_code(bad)


@override_settings(XPCC_PROVINCE_CODE="660000")
def test_xpcc_has_its_own_configured_code():
    assert validate_province_code("660000") == "660000"


def test_institution_codes():
    assert validate_institution_code("h31010100001") == "H31010100001"
    with pytest.raises(CodeError):
        validate_institution_code("H99010100001")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a00.000", "A00.000"),
        ("A00.000x001", "A00.000x001"),
        ("A01.000x005+J17.0*", "A01.000x005+J17.0*"),
        ("K35.800X001", "K35.800x001"),
        ("K35.8000", None),
    ],
)
def test_icd10_codes_keep_lower_case_extension(raw, expected):
    if expected is None:
        with pytest.raises(CodeError):
            validate_icd10(raw)
    else:
        assert validate_icd10(raw) == expected


def test_money_is_integer_fen():
    assert yuan_to_fen("1,234.56") == 123456
    assert format_yuan(-123456) == "-¥1,234.56"
    assert apply_ratio(101, __import__("decimal").Decimal("0.5")) == 51
    for bad in ("1.234", "abc"):
        with pytest.raises(MoneyError):
            yuan_to_fen(bad)
    for bad in (1.5, True, 2**63):
        with pytest.raises(MoneyError):
            check_fen(bad)

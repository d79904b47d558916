"""Refusals of the services read in the reader's language: the admin (Chinese by default) shows
the code's label and the detail in Chinese; the API keeps its English ``detail`` and stable
``code`` for programs, and answers in Chinese only when the request's Accept-Language asks for it."""

from __future__ import annotations

import ast
import datetime as dt
import io
from pathlib import Path

import pytest
from django.utils import translation

from apps.catalog import services
from apps.core.errors import Conflict
from apps.core.reasons import error_message

pytestmark = pytest.mark.django_db

HAN = "\u4e00-\u9fff"


def _empty_draft(user):
    return services.release_create_draft(label="2040.01", effective_from=dt.date(2040, 1, 1), user=user, based_on=None)


def _refusal(user) -> Conflict:
    with pytest.raises(Conflict) as caught:
        services.release_submit(release=_empty_draft(user), user=user)
    return caught.value


def test_a_refusal_keeps_its_english_detail_and_reads_chinese_under_zh_hans(catalog_admin):
    refusal = _refusal(catalog_admin)
    assert (refusal.code, refusal.detail) == ("release_empty", "release 2040.01 has no items")
    with translation.override("zh-hans"):
        assert refusal.localized() == "版本 2040.01 没有条目"
        assert error_message(refusal).endswith("版本 2040.01 没有条目")
    with translation.override("en"):
        assert refusal.localized() == "release 2040.01 has no items"


def test_the_api_answers_a_refusal_in_english_unless_the_request_asks_for_chinese(api, catalog_admin):
    _empty_draft(catalog_admin)
    client = api(catalog_admin)
    plain = client.post("/api/v1/releases/2040.01/submit/")
    english = client.post("/api/v1/releases/2040.01/submit/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9,zh;q=0.5")
    chinese = client.post("/api/v1/releases/2040.01/submit/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8")
    assert [r.status_code for r in (plain, english, chinese)] == [409, 409, 409]
    assert [r.json()["code"] for r in (plain, english, chinese)] == ["release_empty"] * 3
    assert plain.json()["detail"] == english.json()["detail"] == "release 2040.01 has no items"
    assert chinese.json()["detail"] == "版本 2040.01 没有条目"


def test_a_status_inside_a_refusal_is_named_by_its_label_in_chinese(catalog_admin, reviewer):
    from tests.factories import published_release

    release = published_release(label="2040.02", effective_from=dt.date(2040, 2, 1), admin=catalog_admin, reviewer=reviewer, count=2)
    with pytest.raises(Conflict) as caught:
        services.item_delete(release=release, code="X", user=catalog_admin)
    with translation.override("zh-hans"):
        text = caught.value.localized()
    assert caught.value.code == "release_not_draft"
    assert "published" not in text and "已发布" in text


# --- every refusal of the domain is translatable ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# The API layer's parameter errors (apps/*/api/) answer programs in English; management commands
# and the database-role tool (dbroles) speak to engineers at a terminal.
NOT_FOR_PEOPLE = {"api", "management", "migrations"}
NOT_FOR_PEOPLE_FILES = {"apps/core/dbroles.py"}
ERROR_CLASSES = {
    "DomainError",
    "ValidationFailed",
    "Conflict",
    "Forbidden",
    "NotFound",
    "NotAuthenticated",
    "LockedOut",
    "BulkFileRejected",
    "ValidationError",
    "PermissionDenied",
}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _plain_words(node: ast.expr) -> bool:
    """An English sentence written as a plain string (a literal, an f-string, a concatenation):
    words with a space between them. A bare token ("url", "invalid_url") is a field or a code."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and " " in node.value.strip()
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.Constant) and " " in str(part.value) for part in node.values)
    if isinstance(node, ast.BinOp):
        return _plain_words(node.left) or _plain_words(node.right)
    return False


def _untranslated_refusals(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node)
        if name not in ERROR_CLASSES and not name.endswith("_error"):
            continue
        texts = [*node.args, *(k.value for k in node.keywords if k.arg in ("detail", "message"))]
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}({ast.unparse(t)[:80]})" for t in texts if _plain_words(t)]
    return found


def test_every_refusal_and_row_error_of_the_domain_is_a_translatable_message():
    """Raise sites of the domain errors, Django's ValidationError/PermissionDenied and the
    ``*_error`` helpers (row errors of imports included) take ``_()`` / ``format_lazy(_())``,
    never a plain English string: the admin would show a Chinese label before English words."""
    modules = [
        path
        for path in sorted((ROOT / "apps").rglob("*.py"))
        if not NOT_FOR_PEOPLE & set(path.relative_to(ROOT).parts) and str(path.relative_to(ROOT)) not in NOT_FOR_PEOPLE_FILES
    ]
    assert len(modules) > 100
    assert [site for path in modules for site in _untranslated_refusals(path)] == []


def _gettext_inside_fstrings(path: Path) -> list[str]:
    """``_()`` inside an f-string's braces: makemessages (xgettext) does not look there, so the
    text would never get its translation."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FormattedValue):
            found += [
                f"{path.relative_to(ROOT)}:{inner.lineno}"
                for inner in ast.walk(node.value)
                if isinstance(inner, ast.Call) and _called(inner) in ("_", "gettext_lazy", "gettext", "pgettext_lazy")
            ]
    return found


def test_no_translatable_text_hides_inside_an_fstring():
    assert [site for path in sorted((ROOT / "apps").rglob("*.py")) for site in _gettext_inside_fstrings(path)] == []


def test_row_errors_of_a_failed_import_read_in_chinese_on_the_job_page_and_its_csv_and_in_english_in_the_api(
    client, api, catalog_admin, django_capture_on_commit_callbacks, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from apps.catalog.importers.services import import_enqueue
    from tests.factories import draft_release

    settings.MEDIA_ROOT = str(tmp_path)
    draft = draft_release(label="2026.01", effective_from=dt.date(2026, 1, 1), user=catalog_admin)
    upload = SimpleUploadedFile("bad.csv", (ROOT / "tests" / "data" / "catalog" / "canonical_bad_rows.csv").read_bytes())
    with django_capture_on_commit_callbacks(execute=True):
        job = import_enqueue(release=draft, upload=upload, fmt="canonical-csv", user=catalog_admin)
    job.refresh_from_db()
    assert job.state == "failed"
    client.force_login(catalog_admin)
    page = client.get(reverse("staff:job-outcome", args=[job.pk])).content.decode()
    table = client.get(reverse("staff:job-errors-csv", args=[job.pk])).content.decode("utf-8-sig")
    answer = api(catalog_admin).get(f"/api/v1/jobs/{job.pk}/").json()
    duplicate = "编码 XA02BCA211A001010101445 也在第 2 行"
    assert (duplicate in page, duplicate in table, "药品编码为 23 位" in page, "文件中有 6 处问题" in page) == (True, True, True, True)
    assert [text for text in ("is also on line", "drug codes are", "problem(s)") if text in page + table] == []
    messages = [e["message"] for e in answer["errors"]]
    assert "code XA02BCA211A001010101445 is also on line 2" in messages
    assert [key for e in answer["errors"] for key in e if key.endswith("_i18n")] == [] and "detail_i18n" not in answer["result"]


def test_an_item_kind_inside_a_set_based_row_error_reads_as_its_label_in_each_language():
    from apps.catalog.importers.sql import MESSAGES
    from apps.catalog.models import ItemKind
    from apps.core.bulk import collect_errors, sql_label, sql_text
    from apps.core.errors import localized

    message = sql_text(MESSAGES["code_code_is_a_kind_code"], code="c", kind=sql_label("k", ItemKind), given_kind=sql_label("g", ItemKind))
    check = f"SELECT 2, 'code', 'code_format', {message} FROM (VALUES ('C1', 'consumable', 'drug'), ('C2', 'odd', 'drug')) AS v(c, k, g)"
    errors, total = collect_errors([check])
    assert total == 2
    with translation.override("zh-hans"):
        chinese = [localized(e)["message"] for e in errors]
    english = [e["message"] for e in errors]
    assert "Medical consumable code" in english[0]
    assert "医用耗材" in chinese[0] and "consumable" not in chinese[0] and "drug" not in chinese[0]
    assert "odd" in chinese[1]  # a value that is not a choice reads as itself


# --- the ICD-10 and ICD-9-CM-3 reference imports ------------------------------------------------


def _reference_refusal(importer, sample: str, bad: dict[int, dict[int, str]]):
    """Import the sample file with some cells replaced ({line: {cell index: value}}); the refusal."""
    from apps.core.bulk import BulkFileRejected

    lines = (ROOT / "tests" / "benefits" / "data" / sample).read_text(encoding="utf-8").splitlines()
    for number, cells in bad.items():
        lines[number - 1] = ",".join(cells.get(index, cell) for index, cell in enumerate(lines[number - 1].split(",")))
    with pytest.raises(BulkFileRejected) as caught:
        importer(stream=io.BytesIO(("\n".join([*lines, lines[0]]) + "\n").encode()))
    return caught.value


def _read_in(language: str, refusal) -> list[tuple[int, str, str, str]]:
    from apps.core.errors import localized

    with translation.override(language):
        return [(e["line"], e["column"], e["code"], localized(e)["message"]) for e in refusal.errors]


def test_a_bad_icd10_reference_row_reads_in_chinese_under_zh_hans_and_in_english_for_programs():
    from apps.benefits.services import icd10_import

    refusal = _reference_refusal(icd10_import, "icd10_sample.csv", {2: {9: "A0.9"}, 3: {10: ""}, 4: {10: "名" * 300}})
    assert _read_in("zh-hans", refusal) == [
        (2, "code", "code_format", "ICD-10（医保版 2.0）编码形如 A00.000、A00.000x001 或 A01.000x005+J17.0*"),
        (3, "name", "missing_field", "诊断名称为空"),
        (4, "name", "too_long", "最多 255 个字符"),
        (9, "code", "duplicate_code", "A00.000 与第 1 行重复"),
    ]
    assert [e["message"] for e in refusal.errors] == [
        "ICD-10 (NHSA 2.0) codes look like A00.000, A00.000x001 or A01.000x005+J17.0*",
        "the diagnosis name is empty",
        "at most 255 characters",
        "A00.000 repeats line 1",
    ]


def test_a_bad_icd9cm3_reference_row_reads_in_chinese_under_zh_hans():
    from apps.benefits.services import icd9cm3_import

    refusal = _reference_refusal(icd9cm3_import, "icd9cm3_sample.csv", {2: {9: "36.06A0"}, 3: {10: ""}})
    assert [message for *_where, message in _read_in("zh-hans", refusal)][:2] == [
        "ICD-9-CM-3（医保版）手术操作编码形如 36、36.0、36.06、36.0601 或 60.2900x004",
        "手术操作名称为空",
    ]

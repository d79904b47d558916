#!/usr/bin/env python3
"""Put every model label people read through gettext, in the source (idempotent).

For each models module given (default: every ``apps/*/models.py`` and ``apps/*/*_models.py``):
- a field without ``verbose_name`` gets ``verbose_name=_("<the name Django would show>")``
  (``amount_fen`` → ``_("amount fen")``), a literal verbose name or ``help_text`` is wrapped in
  ``_()``, and so are the labels of literal ``choices=[(value, "label"), ...]``;
- a ``TextChoices`` / ``IntegerChoices`` member gets its label wrapped, or the label Django
  would derive (``IN_REVIEW = "in_review"`` → ``_("In Review")``) written out;
- a model whose ``Meta`` names no ``verbose_name`` gets the one Django derives from the class
  name, and its plural.

The English a person reads is unchanged (each label is the default Django showed), so the
English switch keeps its wording; ``makemessages`` then finds every label. After a merge that
conflicts in a models module: take the other side, run this script again, ``ruff format``,
``makemigrations`` (the labels are migration state only; no SQL)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELD_CALL = re.compile(r"(Field|ForeignKey|OneToOneField|ManyToManyField)$")
RELATIONAL = re.compile(r"(ForeignKey|OneToOneField|ManyToManyField)$")
CHOICES_BASES = {"TextChoices", "IntegerChoices", "Choices"}
IMPORT = "from django.utils.translation import gettext_lazy as _\n"


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _is_gettext(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _name(node.func) in {"_", "gettext_lazy", "pgettext_lazy", "gettext_noop"}


def _is_text(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value != ""


def _literal(text: str) -> str:
    return '_("' + text.replace("\\", "\\\\").replace('"', '\\"') + '")'


def camel_to_words(name: str) -> str:
    """Django's camel_case_to_spaces: the default verbose name of a model class."""
    return re.sub(r"(((?<=[a-z])[A-Z])|([A-Z](?![A-Z]|$)))", r" \1", name).strip().lower()


def plural(words: str) -> str:
    if words.endswith(("s", "x", "ch", "sh")):
        return words if words.endswith("s") else words + "es"
    if words.endswith("y") and not words.endswith(("ay", "ey", "oy", "uy")):
        return words[:-1] + "ies"
    return words + "s"


class Rewriter:
    def __init__(self, source: str) -> None:
        self.source = source.encode()
        self.lines = self.source.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.edits: list[tuple[int, int, str]] = []

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined,arg-type]

    def wrap(self, node: ast.expr) -> None:
        start, end = self.span(node)
        self.edits.append((start, start, "_("))
        self.edits.append((end, end, ")"))

    def insert_keyword(self, call: ast.Call, text: str) -> None:
        """``text`` as the call's last argument (before its closing parenthesis)."""
        end = self.offset(call.end_lineno, call.end_col_offset) - 1  # type: ignore[arg-type]
        before = self.source[:end].rstrip()
        if before.endswith(b"("):
            self.edits.append((end, end, text))
        elif before.endswith(b","):
            self.edits.append((end, end, " " + text))
        else:
            self.edits.append((len(before), len(before), ", " + text))

    def result(self) -> str:
        out = self.source
        for start, end, text in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            out = out[:start] + text.encode() + out[end:]
        return out.decode()


def _field(rw: Rewriter, name: str, call: ast.Call) -> bool:
    kind = _name(call.func)
    if not FIELD_CALL.search(kind) or kind == "GeneratedField":
        return False
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if "verbose_name" in keywords:
        if _is_text(keywords["verbose_name"]):
            rw.wrap(keywords["verbose_name"])
    elif not RELATIONAL.search(kind) and call.args:
        if _is_text(call.args[0]):
            rw.wrap(call.args[0])
    else:
        rw.insert_keyword(call, "verbose_name=" + _literal(name.replace("_", " ")))
    if "help_text" in keywords and _is_text(keywords["help_text"]):
        rw.wrap(keywords["help_text"])
    choices = keywords.get("choices")
    if isinstance(choices, (ast.List, ast.Tuple)):
        for pair in choices.elts:
            if isinstance(pair, ast.Tuple) and len(pair.elts) == 2 and _is_text(pair.elts[1]):
                rw.wrap(pair.elts[1])
    return True


def _choices_class(rw: Rewriter, cls: ast.ClassDef) -> None:
    for stmt in cls.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        member = stmt.targets[0].id
        if member.startswith("_") or not member.isupper():
            continue
        value = stmt.value
        if isinstance(value, ast.Tuple) and len(value.elts) >= 2:
            label = value.elts[-1]
            if _is_text(label):
                rw.wrap(label)
        elif isinstance(value, ast.Constant):
            end = rw.span(value)[1]
            rw.edits.append((end, end, ", " + _literal(member.replace("_", " ").title())))


def _model_class(rw: Rewriter, cls: ast.ClassDef) -> None:
    fields = []
    for stmt in cls.body:
        single = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        if single and isinstance(stmt.value, ast.Call) and _field(rw, stmt.targets[0].id, stmt.value):  # type: ignore[attr-defined]
            fields.append(stmt)
    if not fields:
        return
    meta = next((s for s in cls.body if isinstance(s, ast.ClassDef) and s.name == "Meta"), None)
    words = camel_to_words(cls.name)
    if meta is not None:
        names = {t.id: s.value for s in meta.body if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)}
        if isinstance(names.get("abstract"), ast.Constant) and names["abstract"].value is True:
            return
        indent = " " * (meta.body[0].col_offset)
        lines = []
        for key, default in (("verbose_name", words), ("verbose_name_plural", plural(names_text(names.get("verbose_name")) or words))):
            if key not in names:
                lines.append(f"{indent}{key} = {_literal(default)}\n")
            elif _is_text(names[key]):
                rw.wrap(names[key])
        if lines:
            at = rw.starts[meta.body[-1].end_lineno]  # type: ignore[index]
            rw.edits.append((at, at, "".join(lines)))
    else:
        last = fields[-1]
        indent = " " * last.col_offset
        at = rw.starts[last.end_lineno]  # type: ignore[index]
        text = f"\n{indent}class Meta:\n{indent}    verbose_name = {_literal(words)}\n{indent}    verbose_name_plural = {_literal(plural(words))}\n"
        rw.edits.append((at, at, text))


def names_text(node: ast.expr | None) -> str:
    if node is None:
        return ""
    if _is_text(node):
        return node.value  # type: ignore[union-attr,no-any-return]
    if _is_gettext(node) and node.args and _is_text(node.args[0]):  # type: ignore[attr-defined]
        return node.args[0].value  # type: ignore[attr-defined,no-any-return]
    return ""


def rewrite(source: str) -> str:
    tree = ast.parse(source)
    rw = Rewriter(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {_name(b) for b in node.bases}
            if bases & CHOICES_BASES:
                _choices_class(rw, node)
            elif node.name != "Meta":
                _model_class(rw, node)
    out = rw.result()
    if out != source and not re.search(r"^from django\.utils\.translation import .*gettext_lazy as _", out, re.M):
        anchor = re.search(r"^from django\.db import models\n", out, re.M) or re.search(r"^from django\.db\b.*\n", out, re.M)
        at = anchor.end() if anchor else 0
        out = out[:at] + IMPORT + out[at:]
    return out


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(
        {*ROOT.glob("apps/*/models.py"), *ROOT.glob("apps/*/*_models.py"), ROOT / "apps/core/roles.py"}
    )
    changed = 0
    for path in paths:
        source = path.read_text(encoding="utf-8")
        out = rewrite(source)
        if out != source:
            path.write_text(out, encoding="utf-8")
            changed += 1
            print(f"labelled {path.relative_to(ROOT) if path.is_absolute() else path}")
    print(f"{changed} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The rules catalogue is the single source of the codes the platform emits (streams.domain.validation.rules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from streams.domain.directory import Refusal
from streams.domain.identifiers import IdentifierCode
from streams.domain.validation import RULES, Violation
from streams.domain.validation.rules import UnknownRuleError

ROOT = Path(__file__).resolve().parents[2] / "streams"


def _calls() -> list[tuple[str, str]]:
    """(code, where) of every string literal given as the code to an emitter in streams/."""
    found = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            codes = [node.args[0]] if node.args and name in {"Violation", "Refusal", "add", "_bad"} else []
            codes += [k.value for k in node.keywords if k.arg == "code"]
            for arg in codes:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((arg.value, f"{path.relative_to(ROOT.parent)}:{node.lineno}"))
    return found


def test_every_code_the_code_emits_is_catalogued() -> None:
    assert [(code, where) for code, where in _calls() if code not in RULES] == []


def _literals() -> set[str]:
    """Every string literal of streams/ outside the catalogue itself (codes are also kept in constants)."""
    found = set()
    for path in ROOT.rglob("*.py"):
        if path.name != "rules.py":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return found


def test_every_catalogued_code_is_emitted_somewhere() -> None:
    emitted = _literals()
    # identifier codes are "<kind>.<reason>" with a reason of IdentifierCode (streams.domain.identifiers)
    emitted |= {f"{kind}.{reason}" for kind in ("niss", "bis", "enterprise") for reason in IdentifierCode}
    assert sorted(set(RULES) - emitted) == []


def test_a_code_outside_the_catalogue_cannot_be_emitted() -> None:
    with pytest.raises(UnknownRuleError):
        Violation("dimona.made_up", "", "nobody listed this")
    with pytest.raises(ValueError):
        Refusal("niss.length", "worker", "an intake rule is not the directory's to decide")

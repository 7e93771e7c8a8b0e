"""One builder per test record: person and enterprise numbers, envelopes and declarations are made in
tests/support/ only, and what it makes is valid.

The scan reads every module under tests/ (an AST, nothing is imported) and refuses, outside tests/support/:
a function named like a maker of NISS, BIS or enterprise numbers or of envelopes, and a helper (not a test)
that writes a declaration out as a dict literal with an ``"envelope"`` key. Partial records written inside a
test function, to test one field, are not builders.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tests.support as support
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.identifiers import BisNumber, NationalNumber, parse_enterprise, parse_niss
from streams.domain.kinds import validate

TESTS = Path(__file__).resolve().parents[1]
SUPPORT = TESTS / "support"
# niss, _niss, make_niss, niss_of, bis, national_numbers, person_number, enterprise, enterprise_number,
# envelope, _envelope...; not test functions (test_bis_numbers), nor names that merely contain the word
MAKER = re.compile(
    r"^_*(?:make_|fresh_|valid_|random_)?"
    r"(?:niss|bis|nn|national_numbers?|person_numbers?|bis_numbers?|enterprise|enterprise_numbers?|envelopes?)"
    r"(?:_of|_for)?$"
)


def _modules() -> Iterator[Path]:
    for path in sorted(TESTS.rglob("*.py")):
        if SUPPORT not in path.parents:
            yield path


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _writes_a_declaration(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A dict literal with an ``"envelope"`` key whose value is written here (a dict or a call)."""
    for node in ast.walk(function):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "envelope" and not isinstance(value, ast.Subscript):
                    return True
    return False


def builders_outside_support() -> list[str]:
    found = []
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for function in _functions(tree):
            where = f"{path.relative_to(TESTS.parent)}:{function.lineno} {function.name}()"
            if MAKER.match(function.name):
                found.append(f"{where} makes numbers or envelopes")
            elif not function.name.startswith("test_") and _writes_a_declaration(function):
                found.append(f"{where} writes a declaration")
    return found


def test_no_test_module_writes_its_own_builder() -> None:
    found = builders_outside_support()
    assert found == [], "use (or extend) the builders of tests/support/ instead:\n" + "\n".join(found)


def test_the_scan_recognises_a_maker_and_a_builder() -> None:
    source = (
        "def niss(i): return str(i)\n"
        "def _envelope(s): return {}\n"
        "def dimona(w): return {'envelope': {'sender': w}, 'worker': w}\n"
        "def dimona_out(r): return {**r, 'envelope': r['envelope']}\n"  # passes an envelope on: not a builder
        "def test_bis_numbers(): assert {'envelope': {}}\n"  # a test writing a partial record
    )
    functions = list(_functions(ast.parse(source)))
    assert [f.name for f in functions if MAKER.match(f.name)] == ["niss", "_envelope"]
    assert [f.name for f in functions if not f.name.startswith("test_") and _writes_a_declaration(f)] == ["dimona"]


# -- what the one builder makes is valid ------------------------------------------------------------------------

CODEC = AvroCodec(SchemaRegistry.from_directory())
BUILDERS = [
    support.integration,
    support.consultation,
    support.dimona_in,
    support.dimona_out,
    support.dimona_update,
    support.dimona_cancel,
    support.dmfa,
    support.address_change,
    support.birth,
    support.death,
    support.civil_status_change,
]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda b: b.__name__)
def test_every_builders_default_is_a_valid_declaration_of_a_fresh_person(
    build: Callable[[], support.Declaration],
) -> None:
    first, second = build(), build()
    assert validate(*first) == []
    CODEC.encode(*first)  # the schema's shape
    assert first.record["envelope"]["sender_reference"] != second.record["envelope"]["sender_reference"]
    content = [{k: v for k, v in d.record.items() if k != "envelope"} for d in (first, second)]
    assert content[0] != content[1]  # about a fresh person each time


def test_numbers_are_valid_and_fresh() -> None:
    people = [support.niss() for _ in range(2000)]
    assert len(set(people)) == len(people)
    assert all(isinstance(parse_niss(n), NationalNumber) for n in people)
    assert all(int(support.niss(female=True)[6:9]) % 2 == 0 for _ in range(50))
    assert isinstance(parse_niss(support.bis()), BisNumber)
    assert isinstance(parse_niss(support.bis(sex_known=False)), BisNumber)
    enterprises = [support.enterprise_number() for _ in range(100)]
    assert len(set(enterprises)) == 100 and all(parse_enterprise(e).digits == e for e in enterprises)

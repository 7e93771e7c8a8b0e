"""The contracts themselves: layout, documentation, evolution guard, generated docs."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from streams.codecs import SchemaLoadError, SchemaRegistry, default_schema_dir
from streams.codecs.compat import check_history, incompatibilities
from streams.codecs.docgen import default_output, render
from streams.codecs.release import release, unreleased

ROOT = default_schema_dir()
REGISTRY = SchemaRegistry.from_directory(ROOT)
NAMESPACES = {"common", "dimona", "dmfa", "civil", "directory", "outputs", "consultation", "internal"}


def _files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.avsc") if "history" not in p.relative_to(ROOT).parts)


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.stem)
def test_one_documented_named_type_per_file(path: Path) -> None:
    raw = json.loads(path.read_text())
    area = path.parent.name
    assert area in NAMESPACES
    assert raw["namespace"] == f"be.crossroads.{area}" and raw["name"] == path.stem
    assert raw["type"] in ("record", "enum")
    assert raw.get("doc", "").strip(), f"{path.stem} has no doc"
    for field in raw.get("fields", []):
        assert field.get("doc", "").strip(), f"{path.stem}.{field['name']} has no doc"
        # An optional field must default to null, so that adding or removing it stays compatible.
        if isinstance(field["type"], list) and "null" in field["type"]:
            assert field["type"][0] == "null" and field.get("default", "missing") is None


def test_the_contracts_the_issue_asks_for_exist() -> None:
    expected = {
        "common": ["Envelope", "Period", "Address"],
        "dimona": ["DimonaIn", "DimonaOut", "DimonaUpdate", "DimonaCancel", "DimonaBatch"],
        "dmfa": ["DmfaDeclaration", "WorkerLine"],
        "civil": ["Birth", "AddressChange", "Death", "CivilStatusChange"],
        "directory": ["Integration"],
        "outputs": ["Notification", "Acknowledgement", "Rejection", "AuditRecord", "DeadLetter"],
        "consultation": ["ConsultationRequest", "ConsultationReply"],
    }
    for area, names in expected.items():
        for name in names:
            assert f"be.crossroads.{area}.{name}" in REGISTRY
    dimona_in = REGISTRY.get("be.crossroads.dimona.DimonaIn").standalone
    assert dimona_in["fields"][0]["type"]["name"] == "be.crossroads.common.Envelope"


def test_every_schema_is_released() -> None:
    # A new or changed schema must be released (python -m streams.codecs.release) once the guard below passes.
    assert unreleased(REGISTRY) == []


def test_every_schema_is_compatible_with_every_release_of_itself() -> None:
    assert check_history(REGISTRY) == []


def _dimona_in() -> dict[str, Any]:
    return copy.deepcopy(REGISTRY.history("be.crossroads.dimona.DimonaIn")[0].standalone)


def test_a_compatible_change_passes_the_guard() -> None:
    new = _dimona_in()
    new["fields"].append({"name": "note", "type": ["null", "string"], "default": None, "doc": "x"})
    assert incompatibilities(new, _dimona_in()) == []


def test_a_new_required_field_breaks_backward_compatibility() -> None:
    new = _dimona_in()
    new["fields"].append({"name": "salary", "type": "long", "doc": "no default: old data cannot be read"})
    assert [direction for direction, _ in incompatibilities(new, _dimona_in())] == ["backward"]


def test_a_removed_required_field_breaks_forward_compatibility() -> None:
    new = _dimona_in()
    new["fields"] = [f for f in new["fields"] if f["name"] != "worker"]
    assert [direction for direction, _ in incompatibilities(new, _dimona_in())] == ["forward"]


def test_the_guard_catches_a_breaking_edit_of_the_files(tmp_path: Path) -> None:
    """End to end, on a synthetic broken copy of avro_schemas/: the edit also breaks the batch embedding it."""
    copy_root = tmp_path / "avro_schemas"
    shutil.copytree(ROOT, copy_root)
    path = copy_root / "dimona" / "DimonaIn.avsc"
    raw = json.loads(path.read_text())
    for field in raw["fields"]:
        if field["name"] == "joint_committee":
            field["type"] = "int"  # string -> int: neither direction can read the other
    path.write_text(json.dumps(raw))
    broken = SchemaRegistry.from_directory(copy_root)
    found = {(p.full_name, p.direction) for p in check_history(broken)}
    assert found == {
        (name, direction)
        for name in ("be.crossroads.dimona.DimonaIn", "be.crossroads.dimona.DimonaBatch")
        for direction in ("backward", "forward")
    }


def test_release_writes_the_next_version(tmp_path: Path) -> None:
    copy_root = tmp_path / "avro_schemas"
    shutil.copytree(ROOT, copy_root)
    path = copy_root / "common" / "Period.avsc"
    raw = json.loads(path.read_text())
    raw["fields"].append({"name": "label", "type": ["null", "string"], "default": None, "doc": "x"})
    path.write_text(json.dumps(raw))
    written = release(SchemaRegistry.from_directory(copy_root))
    # Period and every schema embedding it get a new version; doc-only edits would not.
    assert copy_root / "history" / "be.crossroads.common.Period" / "v2.avsc" in written
    assert unreleased(SchemaRegistry.from_directory(copy_root)) == []


def test_an_unknown_reference_fails_loading(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "A.avsc").write_text(
        json.dumps({"type": "record", "name": "A", "namespace": "x", "fields": [{"name": "b", "type": "x.Missing"}]})
    )
    with pytest.raises(SchemaLoadError, match=r"x\.Missing"):
        SchemaRegistry.from_directory(tmp_path)


def test_docs_schemas_md_is_up_to_date() -> None:
    assert default_output().read_text(encoding="utf-8") == render(REGISTRY), "run: python -m streams.codecs.docgen"

"""Reading a network from its directory of YAML files (the imperative shell around ``streams.domain.network``).

A network version is a directory holding six files, each with the same ``version`` key::

    deploy/network/v1/
        sectors.yaml            version + sectors: [{code, name, capacities: {CODE: description}}]
        institutions.yaml       version + institutions: [{enterprise_number, name, sector}]
        authorizations.yaml     version + authorizations: [{sector, capacity, data_types, legal_basis,
                                                            valid_from, valid_to, purpose}]
        secretariats.yaml       version + secretariats: [{enterprise_number, name}]
        mandates.yaml           version + mandates: [{secretariat, employer, valid_from, valid_to}]
        authentic_sources.yaml  version + authentic_sources: [{declarations, enterprise_number, name}]

The platform loads it once at start-up and refuses to start on any problem; ``crossroads network check`` runs
the same load.  Every problem names its file and, where YAML kept it, the line of the entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from streams.domain.network import DOCUMENTS, Network, NetworkError, Problem, parse_network

__all__ = ["load_network", "network_files"]


def network_files(directory: Path) -> dict[str, Path]:
    """The file of each document of the network in ``directory``."""
    return {document: directory / f"{document}.yaml" for document in DOCUMENTS}


def load_network(path: Path) -> Network:
    """Load and validate the network in directory ``path``; raise :class:`NetworkError` with every problem."""
    if not path.is_dir():
        raise NetworkError([Problem("network.file", f"{path} is not a directory holding a network", file=str(path))])
    documents: dict[str, Any] = {}
    lines: dict[str, dict[int, int]] = {}
    problems: list[Problem] = []
    for document, file in network_files(path).items():
        try:
            documents[document], lines[document] = _read(file, document)
        except NetworkError as exc:
            problems.extend(exc.details)
    # A broken file would make every entry that refers to it look wrong too: report the file alone.
    if problems:
        raise NetworkError(problems)
    try:
        return parse_network(documents, _network_version(documents))
    except NetworkError as exc:
        files = network_files(path)
        raise NetworkError(_locate(p, files, lines) for p in exc.details) from None


def _read(file: Path, document: str) -> tuple[Any, dict[int, int]]:
    """The document's data and the line of each of its entries (by index in its list)."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NetworkError([Problem("network.file", "file not found", document, file=str(file))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NetworkError([Problem("network.file", f"cannot read: {exc}", document, file=str(file))]) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise NetworkError(
            [Problem("network.yaml", f"invalid YAML: {message}", document, file=str(file), line=line)]
        ) from None
    except yaml.YAMLError as exc:
        raise NetworkError([Problem("network.yaml", f"invalid YAML: {exc}", document, file=str(file))]) from None
    finally:
        loader.dispose()
    return data, _entry_lines(node, document)


def _entry_lines(node: yaml.Node | None, document: str) -> dict[int, int]:
    """Line (1-based) of each entry of the document's list, read from the composed YAML tree."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == document and isinstance(value, yaml.SequenceNode):
            return {index: item.start_mark.line + 1 for index, item in enumerate(value.value)}
    return {}


def _network_version(documents: Mapping[str, Any]) -> str:
    """The version the first document declares; ``parse_network`` holds the others to it."""
    for document in DOCUMENTS:
        body = documents.get(document)
        if isinstance(body, Mapping) and body.get("version") is not None:
            return str(body["version"])
    return ""


def _locate(problem: Problem, files: Mapping[str, Path], lines: Mapping[str, Mapping[int, int]]) -> Problem:
    file = files.get(problem.document)
    if file is None:
        return problem
    line = lines.get(problem.document, {}).get(problem.index) if problem.index is not None else None
    return dataclasses.replace(problem, file=str(file), line=line)

"""Codec: round trips of every schema in both framings (hypothesis), framing details, typed errors."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import avro.schema
import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codecs import (
    AvroCodec,
    CodecError,
    CorruptMessageError,
    HttpSchemaRegistryClient,
    InMemorySchemaRegistry,
    InvalidRecordError,
    SchemaRegistry,
    SchemaRegistryUnavailableError,
    UnknownSchemaError,
)
from streams.codecs.registry import fingerprint_of
from streams.domain.kinds import DECLARATION_TYPES
from streams.domain.samples import sample, sample_dimona_in

REGISTRY = SchemaRegistry.from_directory()
RECORDS = REGISTRY.records()

# -- a hypothesis strategy for any of our schemas -----------------------------------------------------------


def _named(node: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node, list):
        for branch in node:
            _named(branch, out)
    elif isinstance(node, dict):
        if node.get("type") in ("record", "enum"):
            out[node["name"]] = node
        for field in node.get("fields", []):
            _named(field["type"], out)
        if "items" in node:
            _named(node["items"], out)
    return out


def strategy(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        records = [
            b
            for b in schema
            if (isinstance(b, str) and named.get(b, {}).get("type") == "record")
            or (isinstance(b, dict) and b.get("type") == "record")
        ]
        if len(records) > 1:  # the codec's (name, record) notation for multi-record unions
            return st.one_of(
                [st.tuples(st.just(b if isinstance(b, str) else b["name"]), strategy(b, named)) for b in records]
            )
        return st.one_of([strategy(b, named) for b in schema])
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if logical == "date":
        return st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))
    if logical == "timestamp-millis":
        return st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)).map(
            lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000)
        )
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "string": st.text(max_size=12),
        "bytes": st.binary(max_size=12),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "double": st.floats(allow_nan=False),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(strategy(schema["items"], named), max_size=3)
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: strategy(f["type"], named) for f in schema["fields"]})
    return strategy(kind, named)


def records_of(full_name: str) -> st.SearchStrategy[dict[str, Any]]:
    standalone = REGISTRY.get(full_name).standalone
    return strategy(standalone, _named(standalone, {}))


@pytest.fixture(scope="module")
def single() -> AvroCodec:
    return AvroCodec(REGISTRY)


@pytest.fixture(scope="module")
def confluent() -> AvroCodec:
    return AvroCodec(REGISTRY, confluent_client=InMemorySchemaRegistry())


@pytest.mark.parametrize("full_name", RECORDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_schema_round_trips_in_both_framings(
    full_name: str, data: st.DataObject, single: AvroCodec, confluent: AvroCodec
) -> None:
    record = data.draw(records_of(full_name))
    for codec, framing in ((single, "single-object"), (confluent, "confluent")):
        decoded = codec.decode(codec.encode(full_name, record, topic="crossroads.test.v1"))
        assert (decoded.schema_name, decoded.record, decoded.framing) == (full_name, record, framing)


@pytest.mark.parametrize("full_name", DECLARATION_TYPES)
def test_samples_round_trip(full_name: str, single: AvroCodec) -> None:
    assert single.decode(single.encode(full_name, sample(full_name))).record == sample(full_name)


# -- framing --------------------------------------------------------------------------------------------


def test_single_object_header(single: AvroCodec) -> None:
    data = single.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())
    entry = REGISTRY.get("be.crossroads.dimona.DimonaIn")
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == entry.fingerprint
    # Same CRC-64-AVRO as the avro package, on a schema without logical types: avro-python keeps
    # {"type": "long"} for a logical type in its canonical form, which the spec's [PRIMITIVES] rule forbids.
    violation = REGISTRY.get("be.crossroads.outputs.Violation")
    assert violation.fingerprint == avro.schema.parse(violation.json).fingerprint("CRC-64-AVRO")
    assert '"type":"int"' in entry.canonical and "logicalType" not in entry.canonical
    body = fastavro.schemaless_reader(io.BytesIO(data[10:]), entry.parsed)
    assert body["worker"] == sample_dimona_in()["worker"]


def test_crc64_avro_matches_the_spec_vector() -> None:
    # Avro specification: fingerprint64("null") = 0x63dd24e7cc258f8a, written little-endian.
    assert fingerprint_of("null") == (0x63DD24E7CC258F8A).to_bytes(8, "little")


def test_confluent_framing_registers_topic_subjects() -> None:
    fake = InMemorySchemaRegistry()
    codec = AvroCodec(REGISTRY, confluent_client=fake)
    data = codec.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in(), topic="crossroads.intake.dimona.v1")
    schema_id = int.from_bytes(data[1:5], "big")
    assert data[0] == 0 and fake.subjects == {"crossroads.intake.dimona.v1-value": [schema_id]}
    codec.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())  # no topic: record name strategy
    assert fake.subjects["be.crossroads.dimona.DimonaIn"] == [schema_id]
    # A fresh consumer knows nothing but the registry: it fetches the schema by id.
    reader = AvroCodec(REGISTRY, confluent_client=fake)
    assert reader.decode(data).record == sample_dimona_in()
    # and reads single-object messages too, whatever it writes.
    assert (
        reader.decode(AvroCodec(REGISTRY).encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())).framing
        == "single-object"
    )


# -- errors ---------------------------------------------------------------------------------------------

GOOD = AvroCodec(REGISTRY).encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"", CorruptMessageError, "empty"),
        (None, CorruptMessageError, "tombstone"),  # any producer may write a null value to any topic
        (b"\x7b\x22json\x22", CorruptMessageError, "magic"),
        (GOOD[:6], CorruptMessageError, "truncated"),
        (GOOD[:-3], CorruptMessageError, "does not decode"),
        (GOOD + b"\x00", CorruptMessageError, "trailing"),
        (GOOD[:10] + b"\xff" * 40, CorruptMessageError, "does not decode"),
        (b"\xc3\x01" + b"\x00" * 8 + GOOD[10:], UnknownSchemaError, "fingerprint"),
        (b"\x00\x00\x00\x00\x07" + GOOD[10:], UnknownSchemaError, "no schema registry"),
        (b"\x00\x00\x00", CorruptMessageError, "truncated"),
    ],
)
def test_bad_bytes_raise_typed_errors_with_a_reason(data: bytes | None, error: type[CodecError], words: str) -> None:
    with pytest.raises(error) as caught:
        AvroCodec(REGISTRY).decode(data)
    assert isinstance(caught.value, CodecError)
    assert words in caught.value.reason


def test_unknown_confluent_id_and_unknown_name() -> None:
    codec = AvroCodec(REGISTRY, confluent_client=InMemorySchemaRegistry())
    with pytest.raises(UnknownSchemaError, match="schema id 42"):
        codec.decode(b"\x00\x00\x00\x00\x2a" + GOOD[10:])
    with pytest.raises(UnknownSchemaError, match="unknown schema name"):
        codec.encode("be.crossroads.nope.Nope", {})


def test_confluent_schema_that_is_not_ours() -> None:
    fake = InMemorySchemaRegistry()
    schema_id = fake.register("x-value", json.dumps({"type": "record", "name": "other.Thing", "fields": []}))
    with pytest.raises(UnknownSchemaError, match=r"not a be\.crossroads contract"):
        AvroCodec(REGISTRY, confluent_client=fake).decode(b"\x00" + schema_id.to_bytes(4, "big"))


@pytest.mark.parametrize("change", [{"worker": None}, {"start_date": "tomorrow"}, {"typo_field": 1}])
def test_encoding_a_bad_record_raises(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidRecordError, match="DimonaIn"):
        AvroCodec(REGISTRY).encode("be.crossroads.dimona.DimonaIn", {**sample_dimona_in(), **change})


# -- an older released writer is resolved to the current reader ----------------------------------------


def _write(path: Path, schema: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))


def test_message_written_with_an_older_release_decodes(tmp_path: Path) -> None:
    v1 = {"type": "record", "name": "t.T", "doc": "t", "fields": [{"name": "a", "type": "int", "doc": "a"}]}
    v2 = {**v1, "fields": [*v1["fields"], {"name": "b", "type": ["null", "string"], "default": None, "doc": "b"}]}
    _write(tmp_path / "t" / "T.avsc", v2)
    _write(tmp_path / "history" / "t.T" / "v1.avsc", v1)
    registry = SchemaRegistry.from_directory(tmp_path)
    old = registry.history("t.T")[0]
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, old.parsed, {"a": 7})
    decoded = AvroCodec(registry).decode(b"\xc3\x01" + old.fingerprint + buffer.getvalue())
    assert decoded.record == {"a": 7, "b": None}
    assert registry.get("t.T").version is None  # v2 is not released yet


# -- the HTTP client, against a tiny stand-in for the registry's REST API --------------------------------


class _Handler(BaseHTTPRequestHandler):
    schemas: ClassVar[dict[int, str]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        schema_id = next((i for i, s in self.schemas.items() if s == body["schema"]), len(self.schemas) + 1)
        self.schemas[schema_id] = body["schema"]
        self._reply(200, {"id": schema_id})

    def do_GET(self) -> None:
        schema_id = int(self.path.rsplit("/", 1)[-1])
        if schema_id in self.schemas:
            self._reply(200, {"schema": self.schemas[schema_id]})
        else:
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_registry_client(registry_url: str) -> None:
    writer = AvroCodec(REGISTRY, registry_url)
    data = writer.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in(), topic="crossroads.intake.dimona.v1")
    assert data[0] == 0
    assert AvroCodec(REGISTRY, registry_url).decode(data).record == sample_dimona_in()
    with pytest.raises(UnknownSchemaError):
        HttpSchemaRegistryClient(registry_url).get_schema(999)


def test_unreachable_registry_is_not_a_codec_error() -> None:
    codec = AvroCodec(
        REGISTRY,
        "http://127.0.0.1:9",
    )
    with pytest.raises(SchemaRegistryUnavailableError) as caught:
        codec.encode("be.crossroads.dimona.DimonaIn", sample_dimona_in())
    assert not isinstance(caught.value, CodecError)  # an outage must not dead-letter good messages

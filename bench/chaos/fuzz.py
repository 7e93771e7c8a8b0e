"""Fuzzed intake messages, what the platform's own codec and validation say they are, and what became of them.

Pure: no Kafka. Four families:

* ``random_bytes``: random values (empty, short, long; some behind a real single-object header, a Confluent
  header or an unknown fingerprint);
* ``truncated``: a real declaration's encoded bytes cut short;
* ``bitflip``: a real declaration's encoded bytes with 1-3 bits flipped (header or body);
* ``absurd``: valid Avro of real declarations with absurd values (the kinds in `ABSURD`): dates and timestamps
  far in the past or the future, huge and negative numbers, empty and long strings, invalid national and
  enterprise numbers, look-alike digits, wrong sectors, capacities and institutions, oversized DIMONA batches,
  impossible quarters, parents and partners, unknown data types.

"Real declarations" come from a *separate* generated population (another seed), and a fuzzed message whose
decoded content names a person of the compared traffic is drawn again: whatever the platform makes of a fuzzed
message (even one accepted) cannot change what the good traffic gets.

`predict` says what the platform should do with a value -- the same codec and the same validation the intake
runs: undecodable -> dead letter; decodable with violations -> rejected with those codes; else accepted at
intake (the directory may still refuse it: `wrong_sector`). `classify` says what it did, from the outputs:
dead-lettered (matched by origin topic/partition/offset), rejected (by ticket, i.e. intake position, with its
stage and codes), accepted (an acknowledgement, a fact or a consultation reply with its ticket), accepted as a
repeat (a DmfA identical to one accepted before: acknowledged under that one's ticket, with its own sender
reference), or missing.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from chaos.ids import Outputs
from streams.codecs import AvroCodec, CodecError
from streams.domain.admission import intake_ticket
from streams.domain.kinds import validate
from streams.domain.network import Network
from streams.domain.senders import NOT_AUTHENTICATED, sender_violations
from streams.network_files import load_network
from streams.settings import Settings
from streams.synthetic.numbers import break_enterprise, break_niss
from streams.synthetic.traffic import PERSON_FIELD

FAMILIES = ("random_bytes", "truncated", "bitflip", "absurd")
WEIGHTS = {"random_bytes": 0.2, "truncated": 0.2, "bitflip": 0.2, "absurd": 0.4}
INTAKE_FAMILIES = ("dimona", "dmfa", "civil", "integrations", "consultations")
EXAMPLES = 5

DIMONA_IN = "be.crossroads.dimona.DimonaIn"
DIMONA_OUT = "be.crossroads.dimona.DimonaOut"
DIMONA_UPDATE = "be.crossroads.dimona.DimonaUpdate"
DIMONA_CANCEL = "be.crossroads.dimona.DimonaCancel"
DIMONA_BATCH = "be.crossroads.dimona.DimonaBatch"
DMFA = "be.crossroads.dmfa.DmfaDeclaration"
BIRTH = "be.crossroads.civil.Birth"
ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"
DEATH = "be.crossroads.civil.Death"
CIVIL_STATUS_CHANGE = "be.crossroads.civil.CivilStatusChange"
INTEGRATION = "be.crossroads.directory.Integration"
CONSULTATION = "be.crossroads.consultation.ConsultationRequest"

FAMILY_OF_SCHEMA = {
    DIMONA_IN: "dimona",
    DIMONA_OUT: "dimona",
    DIMONA_UPDATE: "dimona",
    DIMONA_CANCEL: "dimona",
    DIMONA_BATCH: "dimona",
    DMFA: "dmfa",
    BIRTH: "civil",
    ADDRESS_CHANGE: "civil",
    DEATH: "civil",
    CIVIL_STATUS_CHANGE: "civil",
    INTEGRATION: "integrations",
    CONSULTATION: "consultations",
}
ENTERPRISE_FIELD = {
    DIMONA_IN: "employer",
    DIMONA_OUT: "employer",
    DIMONA_UPDATE: "employer",
    DIMONA_CANCEL: "employer",
    DMFA: "employer",
    INTEGRATION: "institution",
    CONSULTATION: "requester",
}
DATE_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    DIMONA_IN: (("start_date",), ("planned_end_date",)),
    DIMONA_OUT: (("relation_start_date",), ("end_date",)),
    DIMONA_UPDATE: (("relation_start_date",), ("new_end_date",)),
    DIMONA_CANCEL: (("relation_start_date",),),
    BIRTH: (("birth_date",),),
    ADDRESS_CHANGE: (("effective_date",),),
    DEATH: (("date_of_death",),),
    CIVIL_STATUS_CHANGE: (("effective_date",),),
    INTEGRATION: (("period", "start"), ("period", "end")),
    CONSULTATION: (("as_of",),),
}
UTC = dt.UTC

Record = dict[str, Any]
Source = tuple[str, Record]  # (schema, record): a real declaration
Mutation = Callable[[random.Random, str, Record], str | None]  # mutates in place; None: not applicable


class FuzzMessage(NamedTuple):
    n: int
    family: str  # FAMILIES
    kind: str  # the sub-kind: the absurd mutation, the random-bytes shape, ...
    intake: str  # the intake topic's family (INTAKE_FAMILIES)
    key: bytes | None
    value: bytes
    expected: str  # dead_letter | rejected | accepted (at intake)
    codes: tuple[str, ...]  # the intake violations predicted
    schema: str | None  # what the value decodes as (None: it does not)
    reference: str | None = None  # its envelope's sender reference, when it decodes as a declaration


@dataclass(frozen=True)
class Prediction:
    expected: str
    codes: tuple[str, ...] = ()
    schema: str | None = None
    record: Record | None = None


_network: Network | None = None


def _sample_network() -> Network:
    global _network
    if _network is None:
        _network = load_network(Settings().network_dir)
    return _network


def predict(codec: AvroCodec, value: bytes) -> Prediction:
    """What the intake does with `value`: the codec, the sender rules and the validation it runs, nothing else.

    The harness seals each decodable message as the sender its envelope names (chaos.stack.TrackedProducer):
    a sender that is no enterprise number proves nobody, and such a message is dead-lettered."""
    try:
        decoded = codec.decode(value)
    except CodecError:
        return Prediction("dead_letter")
    envelope = decoded.record.get("envelope")
    sender = envelope.get("sender") if isinstance(envelope, dict) else None
    proven = sender if isinstance(sender, str) and sender.isascii() and sender.isdigit() and len(sender) == 10 else None
    if proven is None:
        return Prediction("dead_letter", (NOT_AUTHENTICATED,), decoded.schema_name, decoded.record)
    today = dt.datetime.now(dt.UTC).date()
    violations = [
        *sender_violations(decoded.schema_name, decoded.record, proven=proven, network=_sample_network(), on=today),
        *validate(decoded.schema_name, decoded.record),
    ]
    codes = tuple(sorted({v.code for v in violations}))
    return Prediction("rejected" if codes else "accepted", codes, decoded.schema_name, decoded.record)


def strings_of(value: Any) -> Iterable[str]:
    """Every string inside a decoded record (nested records, arrays, unions as (name, record) tuples)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_of(item)


# -- byte-level families ------------------------------------------------------------------------------------------


def random_value(rng: random.Random, fingerprints: Sequence[bytes]) -> tuple[str, bytes]:
    """(shape, bytes): empty, tiny, random, or random behind a plausible header."""
    shape = rng.choice(
        ("empty", "tiny", "random", "random", "single_object_real", "single_object_unknown", "confluent")
    )
    body = rng.randbytes(rng.choice((1, 3, 8, 40, 200, 2000)))
    if shape == "empty":
        return shape, b""
    if shape == "tiny":
        return shape, rng.randbytes(rng.randrange(1, 3))
    if shape == "single_object_real" and fingerprints:
        return shape, b"\xc3\x01" + rng.choice(fingerprints) + body
    if shape == "single_object_unknown":
        return shape, b"\xc3\x01" + rng.randbytes(8) + body
    if shape == "confluent":
        return shape, b"\x00" + rng.randbytes(4) + body
    return "random", body


def truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Cut at a random point (at least one byte removed): in the header or in the body."""
    cut = rng.randrange(0, len(data))
    return ("header" if cut < 10 else "body"), data[:cut]


def flip_bits(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """1-3 random bits flipped; the kind says whether a header byte was hit."""
    mutable = bytearray(data)
    positions = [rng.randrange(0, len(mutable)) for _ in range(rng.randint(1, 3))]
    for position in positions:
        mutable[position] ^= 1 << rng.randrange(8)
    return ("header" if min(positions) < 10 else "body"), bytes(mutable)


# -- absurd values (valid Avro) -----------------------------------------------------------------------------------


def _get(record: Record, path: tuple[str, ...]) -> Any:
    value: Any = record
    for name in path:
        value = value[name]
    return value


def _set(record: Record, path: tuple[str, ...], value: Any) -> None:
    target: Any = record
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value


def _dates(schema: str, record: Record) -> list[tuple[str, ...]]:
    return [p for p in DATE_FIELDS.get(schema, ()) if _get(record, p) is not None] or list(DATE_FIELDS.get(schema, ()))


def _date_far_past(rng: random.Random, schema: str, record: Record) -> str | None:
    paths = _dates(schema, record)
    if not paths:
        return None
    _set(record, rng.choice(paths), rng.choice((dt.date(1, 1, 1), dt.date(1066, 10, 14), dt.date(1899, 12, 31))))
    return "date_far_past"


def _date_far_future(rng: random.Random, schema: str, record: Record) -> str | None:
    paths = _dates(schema, record)
    if not paths:
        return None
    _set(record, rng.choice(paths), rng.choice((dt.date(2100, 1, 1), dt.date(3000, 6, 15), dt.date(9999, 12, 31))))
    return "date_far_future"


def _timestamp_absurd(rng: random.Random, schema: str, record: Record) -> str | None:
    record["envelope"]["recorded_at"] = rng.choice(
        (dt.datetime(1, 1, 1, tzinfo=UTC), dt.datetime(1850, 3, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, tzinfo=UTC))
    )
    return "timestamp_absurd"


def _huge_number(rng: random.Random, schema: str, record: Record) -> str | None:
    if schema == DMFA and record["worker_lines"]:
        line = rng.choice(record["worker_lines"])
        choice = rng.randrange(3)
        if choice == 0:
            line["days_worked"] = 2**31 - 1
        elif choice == 1:
            line["gross_wage_cents"] = 2**63 - 1
        else:
            record["nature"], record["version"] = "CORRECTION", 2**31 - 1
        return "huge_number"
    if schema == DIMONA_IN:
        record["planned_hours"] = 2**31 - 1
        return "huge_number"
    record["envelope"]["schema_version"] = 2**31 - 1
    return "huge_number"


def _negative_number(rng: random.Random, schema: str, record: Record) -> str | None:
    if schema == DMFA and record["worker_lines"]:
        line = rng.choice(record["worker_lines"])
        choice = rng.randrange(3)
        if choice == 0:
            line["gross_wage_cents"] = -rng.choice((1, 2**63))
        elif choice == 1:
            line["days_worked"] = -(2**31)
        else:
            line["assimilated_days"] = [{"reason": "SICKNESS", "days": rng.choice((0, -3))}]
        return "negative_number"
    if schema == DIMONA_IN and record["worker_type"] == "STU":
        record["planned_hours"] = -rng.randrange(1, 2**31)
        return "negative_number"
    record["envelope"]["schema_version"] = rng.choice((0, -1, -(2**31)))
    return "negative_number"


def _empty_string(rng: random.Random, schema: str, record: Record) -> str | None:
    options: list[tuple[str, ...]] = [("envelope", "sender_reference"), ("envelope", "sender")]
    if schema in PERSON_FIELD:
        options.append((PERSON_FIELD[schema],))
    if schema in ENTERPRISE_FIELD:
        options.append((ENTERPRISE_FIELD[schema],))
    if schema == INTEGRATION:
        options += [("sector",), ("capacity",)]
    if schema == ADDRESS_CHANGE:
        options += [("address", "street"), ("address", "country")]
    if schema == CONSULTATION:
        options += [("capacity",), ("data_type",)]
    if schema == DMFA:
        options.append(("quarter",))
    _set(record, rng.choice(options), rng.choice(("", " ", "\t\n")))
    return "empty_string"


def _long_string(rng: random.Random, schema: str, record: Record) -> str | None:
    """Long, not huge: a fuzzed message and everything derived from it stay far below the 1 MB message limit
    (near that limit is a probe of its own, `oversized_outcome`)."""
    size = rng.choice((101, 1_000, 5_000, 20_000))
    options: list[tuple[str, ...]] = [("envelope", "sender_reference")]
    if schema in PERSON_FIELD:
        options.append((PERSON_FIELD[schema],))
    if schema == ADDRESS_CHANGE:
        options.append(("address", "street"))
    if schema == CONSULTATION:
        options += [("capacity",), ("data_type",)]
    if schema == INTEGRATION:
        options.append(("capacity",))
    path = rng.choice(options)
    filler = "9" if path[-1] in ("person", "worker", "child") else rng.choice("XYZé€")
    _set(record, path, filler * size if path[-1] != "data_type" else "be.crossroads." + filler * size)
    return "long_string"


def _invalid_niss(rng: random.Random, schema: str, record: Record) -> str | None:
    if schema == DMFA and record["worker_lines"]:
        line = rng.choice(record["worker_lines"])
        line["worker"] = break_niss(line["worker"])
        return "invalid_niss"
    name = PERSON_FIELD.get(schema)
    if name is None:
        return None
    original = record[name]
    record[name] = rng.choice(
        (
            break_niss(original),
            original[:10],
            original + "0",
            "ABCDEFGHIJK",
            original[:2] + "13" + original[4:],  # month 13
            original[:4] + "32" + original[6:],  # day 32
        )
    )
    return "invalid_niss"


def _invalid_enterprise(rng: random.Random, schema: str, record: Record) -> str | None:
    name = ENTERPRISE_FIELD.get(schema)
    path: tuple[str, ...] = (name,) if name else ("envelope", "sender")
    original = _get(record, path)
    _set(record, path, rng.choice((break_enterprise(original), "2" + original[1:], original[:9], "0-00-000-00")))
    return "invalid_enterprise"


def _lookalike_digits(rng: random.Random, schema: str, record: Record) -> str | None:
    """A national number written with other Unicode digits (Arabic-Indic, full-width) or with a NUL inside."""
    name = PERSON_FIELD.get(schema)
    if name is None:
        return None
    original = record[name]
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    fullwidth = str.maketrans("0123456789", "０１２３４５６７８９")
    record[name] = rng.choice(
        (original.translate(arabic), original.translate(fullwidth), original[:5] + "\x00" + original[5:])
    )
    return "lookalike_digits"


def _wrong_sector(rng: random.Random, schema: str, record: Record) -> str | None:
    """An integration the intake lets through and the directory must refuse."""
    if schema != INTEGRATION:
        return None
    choice = rng.randrange(4)
    if choice == 0:
        record["sector"] = "PENSIONS" if record["sector"] != "PENSIONS" else "MUTUALITY"
        return "wrong_sector"
    if choice == 1:
        record["capacity"] = "NOT_A_CAPACITY"
        return "wrong_capacity"
    if choice == 2:
        stranger = "0" + f"{rng.randrange(10**6, 10**7):07d}"
        number = f"{stranger}{97 - int(stranger) % 97:02d}"
        record["institution"] = record["envelope"]["sender"] = number
        return "unknown_institution"
    record["envelope"]["sender"] = "0367302178" if record["institution"] != "0367302178" else "0206731645"
    return "not_own_file"


def _impossible_values(rng: random.Random, schema: str, record: Record) -> str | None:
    if schema == DMFA:
        record["quarter"] = rng.choice(("2024-Q5", "1899-Q4", "0000-Q0", "Q1-2024", "2024-q1"))
        return "impossible_quarter"
    if schema == BIRTH:
        child = record["child"]
        record["parents"] = rng.choice(([child], [*record["parents"], *record["parents"]][:3] or [child, child]))
        return "impossible_parents"
    if schema == CIVIL_STATUS_CHANGE:
        if rng.random() < 0.5:
            record["civil_status"], record["partner"] = "MARRIED", None
        else:
            record["partner"] = record["person"]
        return "impossible_partner"
    if schema == CONSULTATION:
        record["data_type"] = rng.choice(("java.lang.Runtime", "", "../../etc/passwd", "BE.CROSSROADS.X"))
        return "unknown_data_type"
    if schema in (DIMONA_OUT, DIMONA_UPDATE) or schema == DIMONA_IN:
        field_name = {DIMONA_IN: "planned_end_date", DIMONA_OUT: "end_date", DIMONA_UPDATE: "new_end_date"}[schema]
        start_name = "start_date" if schema == DIMONA_IN else "relation_start_date"
        record[field_name] = record[start_name] - dt.timedelta(days=rng.randrange(1, 4000))
        return "end_before_start"
    if schema == INTEGRATION:
        record["period"]["end"] = record["period"]["start"] - dt.timedelta(days=rng.randrange(1, 4000))
        return "end_before_start"
    if "envelope" in record:
        record["envelope"]["ticket"] = rng.choice(("not-a-uuid", "", "00000000-0000-0000-0000-00000000000Z"))
        return "bad_preset_ticket"
    return None


ABSURD: dict[str, Mutation] = {
    "date_far_past": _date_far_past,
    "date_far_future": _date_far_future,
    "timestamp_absurd": _timestamp_absurd,
    "huge_number": _huge_number,
    "negative_number": _negative_number,
    "empty_string": _empty_string,
    "long_string": _long_string,
    "invalid_niss": _invalid_niss,
    "invalid_enterprise": _invalid_enterprise,
    "lookalike_digits": _lookalike_digits,
    "wrong_sector": _wrong_sector,
    "impossible_values": _impossible_values,
}


def dimona_batch(rng: random.Random, sources: Sequence[Source]) -> tuple[str, Record] | None:
    """A DIMONA batch of 0 or 21 declarations (1..20 allowed), all of one sender."""
    dimona = [(s, r) for s, r in sources if s in (DIMONA_IN, DIMONA_OUT, DIMONA_UPDATE, DIMONA_CANCEL)]
    if not dimona:
        return None
    _schema, first = rng.choice(dimona)
    size = rng.choice((0, 21))
    items = []
    for i in range(size):
        item_schema, item = rng.choice(dimona)
        body = copy.deepcopy(item)
        body["envelope"] = {**first["envelope"], "sender_reference": f"{first['envelope']['sender_reference']}-{i}"}
        items.append((item_schema, body))
    return "oversized_batch" if size else "empty_batch", {
        "envelope": copy.deepcopy(first["envelope"]),
        "declarations": items,
    }


# -- the whole fuzz -----------------------------------------------------------------------------------------------


def generate(
    rng: random.Random,
    count: int,
    sources: Sequence[Source],
    codec: AvroCodec,
    forbidden: set[str],
    key_of: Callable[[str, Record], str | None],
) -> list[FuzzMessage]:
    """`count` fuzzed messages from real declarations (`sources`), none naming a person of `forbidden`.

    Valid-Avro messages get the sender reference ``FUZZ-<n>-<kind>`` (unless the mutation is the reference
    itself), so that their outcomes are easy to find by eye too; matching is by intake position."""
    fingerprints = [codec.registry.get(schema).fingerprint for schema in sorted({s for s, _ in sources})]
    families = list(WEIGHTS)
    weights = [WEIGHTS[f] for f in families]
    by_schema: dict[str, list[Record]] = defaultdict(list)
    for schema_name, record_ in sources:
        by_schema[schema_name].append(record_)
    schemas = sorted(by_schema)  # every declaration type as often as any other, whatever the sources' mix
    messages: list[FuzzMessage] = []
    attempts = 0
    while len(messages) < count:
        attempts += 1
        if attempts > 50 * count + 100:
            raise RuntimeError("cannot draw enough fuzzed messages: too few usable sources")
        n = len(messages)
        family = rng.choices(families, weights)[0]
        schema = rng.choice(schemas)
        source = rng.choice(by_schema[schema])
        key = key_of(schema, source)
        # its own reference: a copy under the real declaration's reference is a resend, refused as such
        # (envelope.duplicate_reference), which the stateless prediction below does not know about
        renamed = {**source, "envelope": {**source["envelope"], "sender_reference": f"FUZZ-{n}"}}
        encoded = codec.encode(schema, renamed)
        intake = FAMILY_OF_SCHEMA[schema]
        if family == "random_bytes":
            kind, value = random_value(rng, fingerprints)
            intake = rng.choice(INTAKE_FAMILIES)
            key = rng.choice((None, "", rng.randbytes(8).hex()))
        elif family == "truncated":
            kind, value = truncate(rng, encoded)
        elif family == "bitflip":
            kind, value = flip_bits(rng, encoded)
        else:
            record = copy.deepcopy(source)
            record["envelope"]["sender_reference"] = f"FUZZ-{n}"
            if rng.random() < 0.05:
                batch = dimona_batch(rng, sources)
                if batch is None:
                    continue
                kind, record = batch
                schema = DIMONA_BATCH
            else:
                mutation = rng.choice(list(ABSURD.values()))
                applied = mutation(rng, schema, record)
                if applied is None:
                    continue
                kind = applied
            if record["envelope"]["sender_reference"].startswith("FUZZ-"):
                record["envelope"]["sender_reference"] = f"FUZZ-{n}-{kind}"
            try:
                value = codec.encode(schema, record)
            except CodecError:
                continue  # not valid Avro after all (e.g. an int beyond 32 bits): draw another
        prediction = predict(codec, value)
        if prediction.record is not None and forbidden.intersection(strings_of(prediction.record)):
            continue  # it would touch the compared traffic's persons
        messages.append(
            FuzzMessage(
                n,
                family,
                kind,
                intake,
                key.encode() if isinstance(key, str) and key else None,
                value,
                prediction.expected,
                prediction.codes,
                prediction.schema,
                _reference(prediction.record),
            )
        )
    return messages


def _reference(record: Record | None) -> str | None:
    envelope = record.get("envelope") if record is not None else None
    reference = envelope.get("sender_reference") if isinstance(envelope, dict) else None
    return reference if isinstance(reference, str) else None


# ClickHouse's DateTime (UInt32 seconds since 1970): what the projector's DateTime columns can hold
DATETIME_MIN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DATETIME_MAX = dt.datetime(2106, 2, 7, 6, 28, 15, tzinfo=dt.UTC)


def warehouse_range_suspects(codec: AvroCodec, messages: Sequence[FuzzMessage]) -> list[str]:
    """Fuzzed messages the intake accepts whose envelope's recorded_at the warehouse's DateTime columns cannot
    hold (validation allows 1900-2099): each becomes a fact the projector must insert. With the full value."""
    found = []
    for message in messages:
        if message.expected != "accepted":
            continue
        record = predict(codec, message.value).record or {}
        recorded = (record.get("envelope") or {}).get("recorded_at")
        if isinstance(recorded, dt.datetime) and not DATETIME_MIN <= recorded <= DATETIME_MAX:
            found.append(
                f"#{message.n} {message.family}/{message.kind} {message.schema} recorded_at={recorded.isoformat()} "
                f"reference={(record.get('envelope') or {}).get('sender_reference')!r} value={message.value.hex()}"
            )
    return found


@dataclass
class FuzzVerdict:
    """What became of the fuzzed messages, per family and kind."""

    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # family -> outcome
    kinds: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # "family/kind" -> outcome
    missing: list[str] = field(default_factory=list)  # descriptions of messages with no outcome at all
    mismatched: list[str] = field(default_factory=list)  # the platform did not do what its own rules predict
    accepted: list[str] = field(default_factory=list)  # accepted despite absurd content: validation gaps
    without_reason: list[str] = field(default_factory=list)  # rejections without a violation

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_family": {f: dict(c) for f, c in sorted(self.outcomes.items())},
            "per_kind": {k: dict(c) for k, c in sorted(self.kinds.items())},
            "missing": len(self.missing),
            "missing_examples": self.missing[:EXAMPLES],
            "prediction_mismatches": len(self.mismatched),
            "prediction_mismatch_examples": self.mismatched[:EXAMPLES],
            "accepted": len(self.accepted),
            "accepted_examples": self.accepted[:EXAMPLES],
            "rejections_without_reason": len(self.without_reason),
        }


def describe(message: FuzzMessage, position: tuple[str, int, int] | None) -> str:
    where = f"{position[0]}[{position[1]}]@{position[2]}" if position else "not delivered"
    return (
        f"#{message.n} {message.family}/{message.kind} -> {where} ({message.schema or 'undecodable'}, "
        f"expected {message.expected}{' ' + ','.join(message.codes) if message.codes else ''}); "
        f"value[:64]={message.value[:64].hex()} ({len(message.value)} bytes)"
    )


def classify(
    messages: Sequence[FuzzMessage], positions: Mapping[int, tuple[str, int, int]], outputs: Outputs
) -> FuzzVerdict:
    """Each fuzzed message's fate. `positions`: message n -> (intake topic, partition, offset) as delivered."""
    dead = {(d.topic, d.partition, d.offset) for d in outputs.dead_letters}
    rejected: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for r in outputs.rejections:
        rejected[r.ticket].append((r.stage, r.codes))
    accepted = {a.ticket for a in outputs.acks if a.status == "ACCEPTED"}
    # a DmfA with the content and version of one accepted before is acknowledged again under *that* one's
    # ticket, with its own sender reference (streams.domain.dmfa.decide): a bitflip in the envelope only
    # (a time, the sender's software) makes one of a fuzzed source drawn twice
    accepted_by_reference: defaultdict[str, set[str]] = defaultdict(set)
    for a in outputs.acks:
        if a.status == "ACCEPTED":
            accepted_by_reference[a.reference].add(a.ticket)
    accepted |= {f.ticket for f in outputs.facts}
    accepted |= {r.request_ticket for r in outputs.replies}
    verdict = FuzzVerdict()
    for message in messages:
        position = positions.get(message.n)
        if position is None:
            outcome = "not_delivered"
        else:
            ticket = str(intake_ticket(*position))
            if position in dead:
                outcome = "dead_letter"
            elif ticket in rejected:
                stages = sorted({stage for stage, _ in rejected[ticket]})
                outcome = f"rejected_{'_'.join(stages)}"
                if any(not codes for _, codes in rejected[ticket]):
                    verdict.without_reason.append(describe(message, position))
                intake_codes = {c for stage, codes in rejected[ticket] if stage == "intake" for c in codes}
                if message.expected == "rejected" and intake_codes != set(message.codes):
                    verdict.mismatched.append(f"{describe(message, position)}: intake said {sorted(intake_codes)}")
            elif ticket in accepted:
                outcome = "accepted"
                if message.family == "absurd":
                    verdict.accepted.append(describe(message, position))
            elif message.reference is not None and accepted_by_reference.get(message.reference, set()) - {ticket}:
                outcome = "accepted_as_repeat"
            else:
                outcome = "missing"
                verdict.missing.append(describe(message, position))
            if outcome != "missing":
                predicted = {"dead_letter": "dead_letter", "rejected": "rejected_intake"}.get(message.expected)
                if predicted is not None and not outcome.startswith(predicted):
                    verdict.mismatched.append(f"{describe(message, position)}: it was {outcome}")
                if message.expected == "accepted" and outcome in ("dead_letter", "rejected_intake"):
                    verdict.mismatched.append(f"{describe(message, position)}: it was {outcome}")
        verdict.outcomes[message.family][outcome] += 1
        verdict.kinds[f"{message.family}/{message.kind}"][outcome] += 1
    return verdict

"""The statistics warehouse end to end on the real ClickHouse server (18.16 locally) and Kafka.

Given a generated data set of facts on the facts topics (tests/unit/test_warehouse_dataset.py), when
`crossroads projector` is killed right after an insert and before its offset commit, then restarted, then
the statistics and OASIS flags equal the pure-Python oracle (nothing counted twice), no national number is in
the statistics database nor in the OASIS tables, re-identification resolves only the anti-fraud pseudonyms of
flagged workers for a granted requester and is refused and audited otherwise, and retention deletes exactly
what is past its period.

The module works under its own topic prefix and databases (`<session db>_wh`, `_wh_audit`, `_wh_reid`,
`_wh_oasis`), so the session's running platform (if any) never sees these facts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka import Consumer, Producer

from connectors.clickhouse.migrations import SIBLING_SUFFIXES, warehouse_databases
from streams.catalog import CATALOG
from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.audit import AUDIT_SCHEMA, GENESIS, chain, delivery_entry
from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import parse_niss
from streams.domain.kinds import subject_key
from streams.kafka.producer import producer_config
from streams.kafka.security import client_config
from streams.settings import Settings
from tests.unit.test_warehouse_dataset import (
    QUARTER,
    Dataset,
    generate,
    oracle_employment,
    oracle_flagged_persons,
    oracle_mobility,
    oracle_oasis,
    oracle_population,
    relations,
)

if TYPE_CHECKING:
    from tests.conftest import WarehouseRoles

pytestmark = pytest.mark.integration

AUTHORIZED = "0403170701"  # the settings' development grant: OASIS re-identification
UNAUTHORIZED = "0367302178"
FACT_TOPIC = {"civil": "facts.civil", "dimona": "facts.dimona", "dmfa": "facts.dmfa", "directory": "facts.integrations"}


def _client(settings: Settings, database: str = "default") -> Any:
    from clickhouse_driver import Client

    address = settings.clickhouse
    return Client(host=address.host, port=address.port, user=address.user, password=address.password, database=database)


def _drop_orphans(client: Any) -> None:
    """Sibling databases of test sessions whose main database is gone (left by a session that was killed)."""
    names = {row[0] for row in client.execute("SELECT name FROM system.databases")}
    for name in names:
        for suffix in SIBLING_SUFFIXES:
            if name.startswith("crossroads_test_") and name.endswith(suffix) and name[: -len(suffix)] not in names:
                client.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="module")
def wh(stack_settings: Settings, warehouse_roles: WarehouseRoles) -> Iterator[Settings]:
    address = stack_settings.clickhouse
    database = f"{address.database}_wh"
    settings = stack_settings.model_copy(
        update={
            "clickhouse_url": f"clickhouse://{address.user}:{address.password}@{address.host}:{address.port}/{database}",
            "topic_prefix": f"{stack_settings.topic_prefix}wh",
            "app_id": f"{stack_settings.app_id}-wh",
        }
    )
    from connectors.clickhouse import connect, migrate
    from streams.deployment import grant_deployment
    from streams.kafka.admin import TopicAdmin

    settings = warehouse_roles.grant(settings)  # its projector writes as the projector's user
    admin = _client(settings)
    _drop_orphans(admin)
    TopicAdmin(settings).apply(CATALOG)
    grant_deployment(settings)
    migrate(connect(settings, "default"), settings)
    yield settings
    for name in warehouse_databases(database):
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.disconnect()
    warehouse_roles.revoke(settings)
    from streams.kafka.admin import delete_run_topics

    delete_run_topics(settings)  # and its grants


def _cli(settings: Settings, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    env = {**os.environ, **settings.as_env(), "COLUMNS": "250", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "-m", "streams", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _audit_records(count: int) -> list[dict[str, Any]]:
    records, head = [], GENESIS
    for n in range(count):
        entry = delivery_entry(
            ticket=str(uuid.uuid4()),
            actor="0206731645",
            person="93051822361",
            data_type="be.crossroads.civil.AddressChange",
            legal_basis="deliberation 00/000",
            at=dt.datetime(2026, 4, 1, 9, n, tzinfo=dt.UTC),
        )
        linked = chain(head, entry)
        head = linked["hash"]
        records.append(linked)
    return records


@pytest.fixture(scope="module")
def dataset(wh: Settings, tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The facts produced, then projected by a projector that dies after an insert, then by a fresh one."""
    data = generate()
    codec = AvroCodec(SchemaRegistry.from_directory(wh.schema_dir))
    producer = Producer(producer_config(wh))
    for schema, record in data.facts:
        topic = f"{wh.topic_prefix}.{FACT_TOPIC[schema.split('.')[2]]}.v1"
        key = subject_key(schema, record)
        producer.produce(topic, key=key.encode() if key else None, value=codec.encode(schema, dict(record)))
    for record in _audit_records(5):
        producer.produce(
            f"{wh.topic_prefix}.audit.exchanges.v1", key=b"93051822361", value=codec.encode(AUDIT_SCHEMA, record)
        )
    assert producer.flush(60) == 0

    csv = tmp_path_factory.mktemp("dimensions") / "employers.csv"
    csv.write_text(data.csv())
    loaded = _cli(wh, "warehouse", "load-dimensions", "--employers", str(csv))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "565 rows" in loaded.stdout

    crashed = _cli(
        wh,
        "projector",
        "--flush-rows",
        "300",
        "--idle-exit",
        "20",
        extra_env={"CROSSROADS_PROJECTOR_CRASH_AFTER_INSERTS": "3"},
    )
    assert crashed.returncode == 137, crashed.stdout + crashed.stderr
    client = _client(wh, wh.clickhouse.database)
    written = sum(
        client.execute(f"SELECT count() FROM {t}")[0][0]
        for t in ("journey", "dimona_events", "dmfa_lines", "civil_events", "directory_entries")
    )
    assert written > 0, "the crash hook fires after an insert, so rows were written before the kill"
    resumed = _cli(wh, "projector", "--idle-exit", "5")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return data


def test_every_fact_is_projected_once_in_the_statistics_despite_the_kill(wh: Settings, dataset: Dataset) -> None:
    client = _client(wh, wh.clickhouse.database)
    dimona = sum(1 for s, _ in dataset.facts if ".dimona." in s)
    lines = sum(len(r["worker_lines"]) for s, r in dataset.facts if s.endswith("DmfaDeclaration"))
    assert client.execute("SELECT uniqExact(event_id) FROM dimona_events")[0][0] == dimona
    assert client.execute("SELECT count() FROM dimona_events FINAL")[0][0] == dimona
    assert client.execute("SELECT count() FROM dmfa_lines FINAL")[0][0] == lines
    # the crashed run's first inserts were replayed: physically there may be more rows than facts
    assert client.execute("SELECT count() FROM journey")[0][0] >= len(dataset.facts)
    assert client.execute("SELECT count() FROM journey FINAL")[0][0] == len(dataset.facts)
    audit = _client(wh, f"{wh.clickhouse.database}_audit")
    assert audit.execute("SELECT count() FROM audit_records FINAL")[0][0] == 5


def test_statistics_equal_the_oracle(wh: Settings, dataset: Dataset) -> None:
    from connectors.clickhouse.statistics import employment, mobility, population

    client = _client(wh, wh.clickhouse.database)
    database = wh.clickhouse.database
    for at in (dt.date(2026, 3, 31), dt.date(2026, 6, 30)):
        for level in ("municipality", "arrondissement", "province", "region"):
            got = Counter({(a, s, c): n for a, s, c, n in population(client, database, at, level)})
            assert got == oracle_population(dataset.facts, at, level), (at, level)
    got_jobs = Counter(
        {(q, d, r): p for q, d, r, p, _ in employment(client, database, dt.date(2026, 1, 1), dt.date(2026, 1, 1))}
    )
    assert got_jobs == oracle_employment(dataset, QUARTER)
    first, second = dt.date(2025, 1, 1), dt.date(2026, 3, 31)
    got_moves = Counter({(a, b): n for a, b, n in mobility(client, database, first, second)})
    assert got_moves == oracle_mobility(dataset.facts, first, second)


def test_published_statistics_suppress_small_cells(wh: Settings, dataset: Dataset) -> None:
    shown = _cli(wh, "warehouse", "stats", "population", "--at", "2026-03-31", "--level", "region", "--json")
    assert shown.returncode == 0, shown.stderr
    cells = json.loads(shown.stdout)
    expected = oracle_population(dataset.facts, dt.date(2026, 3, 31), "region")
    assert {(c["region"], c["sex"], c["age_class"]) for c in cells} == set(expected)
    for cell in cells:
        count = expected[(cell["region"], cell["sex"], cell["age_class"])]
        assert cell["count"] == (None if count < wh.small_cell_threshold else count)
    assert any(c["count"] is None for c in cells) and any(c["count"] for c in cells)


def test_oasis_flags_equal_the_oracle(wh: Settings, dataset: Dataset) -> None:
    shown = _cli(wh, "warehouse", "oasis", "--quarter", QUARTER, "--json")
    assert shown.returncode == 0, shown.stderr
    flags = {f["employer"]: set(f["indicators"]) for f in json.loads(shown.stdout)}
    assert flags == oracle_oasis(dataset, QUARTER)
    assert set().union(*flags.values()) == {
        "assimilated_days_above_sector",
        "temporary_unemployment_with_hires",
        "massive_hiring",
        "cancelled_dimona",
        "turnover_above_sector",
    }


def _is_person_number(value: str) -> bool:
    try:
        parse_niss(value)
    except InvalidIdentifierError:
        return False
    return True


def test_no_national_number_in_the_statistics_database(wh: Settings, dataset: Dataset) -> None:
    client = _client(wh)
    database = wh.clickhouse.database
    for pseudonymised in (database, f"{database}_oasis"):
        columns = client.execute(
            "SELECT table, name FROM system.columns WHERE database = %(db)s AND type LIKE '%%String%%'",
            {"db": pseudonymised},
        )
        assert len(columns) > (20 if pseudonymised == database else 10)
        scanned = 0
        for table, column in columns:
            values = [
                row[0] for row in client.execute(f"SELECT DISTINCT toString({column}) FROM {pseudonymised}.{table}")
            ]
            scanned += len(values)
            found = [v for v in values if v and _is_person_number(v)]
            assert not found, f"{pseudonymised}.{table}.{column} holds national numbers: {found[:3]}"
        assert scanned > 500
    # the two purposes' spaces do not meet: no worker pseudonym is in both
    shared = client.execute(
        f"SELECT count() FROM (SELECT DISTINCT worker FROM {database}.dmfa_lines) "
        f"WHERE worker IN (SELECT worker FROM {database}_oasis.dmfa_lines)"
    )
    assert shared == [(0,)]
    # ...whereas the facts were full of them, and the re-identification database (outside) maps them
    persons = {r.get("person") or r.get("worker") or r.get("child") for _, r in dataset.facts} - {None}
    mapped = client.execute(f"SELECT uniqExact(person) FROM {database}_reid.pseudonyms")[0][0]
    assert mapped >= len(persons) > 100


def _pending_audit(settings: Settings, source_ticket: str) -> list[dict[str, Any]]:
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    consumer = Consumer(
        {
            **client_config(settings),
            "group.id": f"wh-audit-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([f"{settings.topic_prefix}.audit.pending.v1"])
    found: list[dict[str, Any]] = []
    try:
        for _ in range(150):
            for message in consumer.consume(num_messages=500, timeout=0.2):
                if message.error() is None:
                    record = codec.decode(message.value() or b"").record
                    if record["source_ticket"] == source_ticket:
                        found.append(record)
            if found:
                break
    finally:
        consumer.close()
    return found


def _reidentify(wh: Settings, pseudonym: str, requester: str, purpose: str) -> Any:
    return _cli(
        wh, "warehouse", "reidentify", pseudonym, "--requester", requester, "--purpose", purpose,
        "--quarter", QUARTER, "--json",
    )  # fmt: skip


def test_reidentification_resolves_flagged_workers_only_for_the_anti_fraud_grant(
    wh: Settings, dataset: Dataset
) -> None:
    shown = _cli(wh, "warehouse", "oasis", "--quarter", QUARTER, "--persons", "--json")
    assert shown.returncode == 0, shown.stderr
    listed = {p for flag in json.loads(shown.stdout) for p in flag["persons"]}
    from connectors.clickhouse.warehouse import settings_pseudonymizer

    oasis_of = settings_pseudonymizer(wh, wh.oasis_purpose)
    flagged = oracle_flagged_persons(dataset, QUARTER)
    assert listed == {oasis_of(w) for w in flagged}
    person = sorted(flagged)[0]
    pseudonym = oasis_of(person)

    refused = _reidentify(wh, pseudonym, UNAUTHORIZED, wh.oasis_purpose)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    answer = json.loads(refused.stdout)
    assert answer["granted"] is False and answer["persons"] == {}
    assert person not in refused.stdout
    (entry,) = _pending_audit(wh, answer["ticket"])
    assert entry["kind"] == "CONSULTATION_REFUSED"
    assert (entry["actor"], entry["person"], entry["data_type"]) == (
        UNAUTHORIZED,
        person,
        "be.crossroads.warehouse.Reidentification",
    )
    assert "no re-identification grant" in entry["reason"]

    wrong_purpose = _reidentify(wh, pseudonym, AUTHORIZED, wh.warehouse_purpose)
    assert wrong_purpose.returncode == 2
    (entry,) = _pending_audit(wh, json.loads(wrong_purpose.stdout)["ticket"])
    assert entry["kind"] == "CONSULTATION_REFUSED" and "may not re-identify for purpose" in entry["reason"]

    # a worker no flag is about, in the anti-fraud space: refused
    client = _client(wh, f"{wh.clickhouse.database}_oasis")
    unflagged = next(
        row[0]
        for row in client.execute("SELECT DISTINCT worker FROM dmfa_lines WHERE quarter = %(q)s", {"q": QUARTER})
        if row[0] not in listed
    )
    not_flagged = _reidentify(wh, unflagged, AUTHORIZED, wh.oasis_purpose)
    assert not_flagged.returncode == 2
    assert "not flagged by the OASIS indicators" in json.loads(not_flagged.stdout)["refused"][unflagged]
    (entry,) = _pending_audit(wh, json.loads(not_flagged.stdout)["ticket"])
    assert entry["kind"] == "CONSULTATION_REFUSED" and _is_person_number(entry["person"])

    granted = _reidentify(wh, pseudonym, AUTHORIZED, wh.oasis_purpose)
    assert granted.returncode == 0, granted.stdout + granted.stderr
    answer = json.loads(granted.stdout)
    assert answer["persons"] == {pseudonym: person}
    (entry,) = _pending_audit(wh, answer["ticket"])
    assert entry["kind"] == "CONSULTATION_GRANTED" and entry["legal_basis"]


def test_the_auditor_user_reads_no_statistics(wh: Settings, dataset: Dataset) -> None:
    from clickhouse_driver import Client
    from clickhouse_driver.errors import ServerException

    address = wh.clickhouse
    auditor = Client(host=address.host, port=address.port, user="auditor", password="auditor")
    try:
        auditor.execute("SELECT 1")
    except ServerException as exc:  # a server started before the auditor user existed (users.xml not reloaded)
        pytest.skip(f"this server has no auditor user: {exc.code}")
    for database in (address.database, f"{address.database}_reid"):
        with pytest.raises(ServerException) as refused:
            auditor.execute(
                f"SELECT count() FROM {database}.civil_events"
                if database == address.database
                else f"SELECT count() FROM {database}.pseudonyms"
            )
        assert refused.value.code == 291  # ACCESS_DENIED
    with pytest.raises(ServerException) as readonly:
        auditor.execute("CREATE DATABASE crossroads_audit_probe")
    assert readonly.value.code == 164  # READONLY


def test_retention_deletes_what_is_past_its_period(wh: Settings, dataset: Dataset) -> None:
    client = _client(wh, wh.clickhouse.database)
    database = wh.clickhouse.database
    today = dt.date(2033, 6, 1)  # DIMONA/DmfA: 7 years -> cutoff 2026-06-01; deceased: 8 years -> 2025-06-01
    cutoff = dt.date(2026, 6, 1)
    deaths_before = {
        r["person"] for s, r in dataset.facts if s.endswith("Death") and r["date_of_death"] < dt.date(2025, 6, 1)
    }
    deaths_after = {r["person"] for s, r in dataset.facts if s.endswith("Death")} - deaths_before
    assert deaths_before and deaths_after
    mapping = f"{database}_reid.pseudonyms"
    statistics_mapped = f"SELECT uniqExact(pseudonym) FROM {mapping} WHERE purpose = %(p)s"
    mapped_before = client.execute(statistics_mapped, {"p": wh.warehouse_purpose})[0][0]
    deceased_with_oasis = client.execute(
        f"SELECT uniqExact(person) FROM {mapping} WHERE purpose = %(p)s AND person IN %(dead)s",
        {"p": wh.oasis_purpose, "dead": tuple(deaths_before)},
    )[0][0]

    ran = _cli(
        wh,
        "warehouse",
        "retention",
        "--today",
        today.isoformat(),
        extra_env={"CROSSROADS_RETENTION_DECEASED_YEARS": "8"},
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr

    assert client.execute("SELECT count() FROM dmfa_lines")[0][0] == 0
    assert client.execute(f"SELECT count() FROM {database}_oasis.dmfa_lines")[0][0] == 0
    kept = {
        k
        for k, r in relations(dataset.facts).items()
        if not ((r.end and r.end < cutoff) or (r.cancelled and k[2] < cutoff))
    }
    assert client.execute("SELECT uniqExact(employer, worker, relation_start) FROM dimona_events")[0][0] == len(kept)
    oasis_relations = f"SELECT uniqExact(employer, worker, relation_start) FROM {database}_oasis.dimona_events"
    assert client.execute(oasis_relations)[0][0] == len(kept)
    persons = client.execute("SELECT uniqExact(person) FROM civil_events WHERE kind = 'DEATH'")[0][0]
    assert persons == len(deaths_after)
    mapped_after = client.execute(statistics_mapped, {"p": wh.warehouse_purpose})[0][0]
    assert mapped_after == mapped_before - len(deaths_before)
    # ...and in every purpose: the anti-fraud mapping of the deceased who had worked is gone too
    assert deceased_with_oasis > 0
    left = f"SELECT count() FROM {mapping} WHERE person IN %(dead)s"
    assert client.execute(left, {"dead": tuple(deaths_before)}) == [(0,)]
    assert client.execute(left, {"dead": tuple(deaths_after)})[0][0] > 0

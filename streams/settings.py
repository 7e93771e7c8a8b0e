"""One settings object for the whole platform, read once from the environment and injected everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, field_serializer, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.domain.pseudonyms import purpose_problems

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The local stack's node i listens on the first broker's port + 2(i-1), its controller on the controller port
# + 2(i-1): with the defaults 9092/9094/9096 and 9093/9095/9097, each node's pair of ports side by side.
LOCAL_PORT_STEP = 2
# Three copies survive one broker down with min ISR 2; more would only cost disk and latency locally.
MAX_DEFAULT_REPLICATION = 3


class Settings(BaseSettings):
    """Everything configurable, with defaults that point at the local stack (`crossroads stack up`)."""

    model_config = SettingsConfigDict(env_prefix="CROSSROADS_", frozen=True, extra="ignore")

    # Kafka. `kafka_brokers` is the one source of truth for the cluster's size: when they are not given
    # explicitly, the bootstrap list and the replication factor follow it (see _kafka_follows_its_brokers).
    kafka_brokers: int = Field(
        1, ge=1, description="brokers of the cluster; `crossroads stack up` starts this many broker+controller nodes"
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092",
        description="bootstrap servers, host:port[,host:port]: one address per broker, or one address that is"
        " the first broker of the local stack (then the others follow it on every second port)",
    )
    kafka_controller_port: int = Field(
        9093, description="KRaft controller port of the local stack's first node (node i: + 2(i-1))"
    )
    kafka_security: Literal["sasl_ssl", "plaintext"] = Field(
        "sasl_ssl",
        description="how clients reach the brokers: sasl_ssl (TLS, SCRAM-SHA-512, ACLs: the default, and what the"
        " demo and tests run on) or plaintext (no TLS, no authentication, no authorizer: only for the security-cost"
        " baseline of bench_core)",
    )
    kafka_principal: str = Field(
        "operator",
        description="the Kafka user this process logs in as; the service commands (worker, projector, connectors)"
        " log in as their own service principal whatever this says",
    )
    kafka_password: SecretStr | None = Field(
        None, description="its SCRAM password; unset: derived from the access secret (streams.domain.credentials)"
    )
    kafka_ca_file: Path | None = Field(
        None,
        description="the CA that signed the brokers' certificates; unset: the local stack's <state_dir>/tls/ca.crt",
    )
    kafka_version: str = Field("4.4.0", description="Apache Kafka release the local stack resolves")
    kafka_heap: str = Field("1g", description="JVM heap (-Xmx) of each local Kafka node")
    default_partitions: int = Field(6, ge=1)
    replication_factor: int = Field(
        1, ge=1, description="replicas of every topic we create; default: kafka_brokers, at most 3"
    )
    schema_registry_url: str | None = Field(
        None, description="Confluent Schema Registry; when set, the codec also speaks its wire framing"
    )

    # ClickHouse
    clickhouse_url: str = Field(
        "clickhouse://default:@127.0.0.1:9000/crossroads",
        description="native-protocol URL of the warehouse (clickhouse://user:password@host:port/database)",
    )
    clickhouse_http_port: int = Field(8123, description="HTTP port of the local ClickHouse server")
    # The projector writes with a user of its own (docs/warehouse.md, "Access"); the host, port and database are
    # the ones of clickhouse_url, so the two cannot point at different warehouses.
    clickhouse_projector_user: str = Field(
        "projector", description="ClickHouse user `crossroads projector` writes the warehouse with"
    )
    clickhouse_projector_password: SecretStr = Field(
        # DEVELOPMENT DEFAULT ONLY: public in the source. Production sets CROSSROADS_CLICKHOUSE_PROJECTOR_PASSWORD.
        SecretStr("projector"),
        description="its password; the local stack puts its sha256 in users.xml",
    )

    # Operations: metrics and the local Prometheus (docs/operations.md)
    metrics_enabled: bool = Field(True, description="serve Prometheus metrics from each platform process")
    metrics_host: str = Field("127.0.0.1", description="where the metrics are served: loopback unless told")
    metrics_worker_port: int = Field(
        0, ge=0, le=65535, description="the worker's metrics port; 0: any free one, announced in <state_dir>/monitoring"
    )
    metrics_projector_port: int = Field(0, ge=0, le=65535, description="the projector's metrics port; 0: any free one")
    metrics_connector_port: int = Field(
        0, ge=0, le=65535, description="a file-drop connector's metrics port; 0: any free one"
    )
    metrics_lag_interval_s: float = Field(
        5.0, gt=0, description="how often a process reads its consumer group's lag from the broker"
    )
    prometheus_port: int = Field(9090, ge=1, le=65535, description="the local stack's Prometheus (--with-monitoring)")
    prometheus_scrape_interval_s: float = Field(
        5.0, gt=0, description="how often the local Prometheus scrapes every platform process"
    )
    prometheus_url: str | None = Field(
        None, description="the Prometheus `crossroads status` asks; unset: the local stack's, when it answers"
    )
    service_level_share: float = Field(
        0.9868, gt=0, le=1, description="the seed's service level: this share of answers and notifications within 4 s"
    )

    # Faust
    app_id: str = Field("crossroads", description="faust application id (consumer group, changelog prefix)")
    store: str = Field("memory://", description="faust table store: memory:// or rocksdb://")
    web_enabled: bool = Field(False, description="run faust's web server in the worker (not needed by the platform)")
    web_port: int = Field(6066, description="faust web port of the worker, when enabled")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    consumer_fetch_max_wait_ms: int = Field(
        50, ge=1, description="longest a worker's fetch waits for data (faust's own is a fixed 1,500 ms)"
    )
    consumer_session_timeout_s: float = Field(
        10.0,
        ge=6.0,
        description="how long the group waits for a silent worker before giving its partitions to the others: a "
        "worker restarted after a crash waits this long for its partitions (faust's own is 60 s; the broker's "
        "minimum 6 s)",
    )
    startup_topics_wait_s: float = Field(
        60.0,
        gt=0,
        description="how long a starting worker waits for the broker to list every topic it reads, then fails",
    )
    batch_max_events: int = Field(
        1000, ge=1, description="most events a flow (intake, directory) takes from its input at once"
    )
    batch_within_ms: int = Field(
        50,
        ge=1,
        description="longest a flow waits to fill a batch before releasing what it has handled (measured: "
        "bench/limits.md; 10 ms halved the half-rate capacity)",
    )
    batch_release_when_caught_up: bool = Field(
        True,
        description="a flow releases its batch as soon as it has handled everything its input holds, not only when "
        "the batch is full or its window is over: at a light load no step waits for its window (bench/limits.md)",
    )
    publisher_linger_ms: int = Field(
        20,
        ge=0,
        description="librdkafka's linger.ms for the flows' producer: what is produced between two releases is grouped "
        "into fewer requests (a release's flush sends at once, whatever the linger). Measured: 20 ms takes a quarter "
        "of the broker's CPU off against 2 ms, at the same throughput and latency (bench/limits.md)",
    )
    event_time_alignment: bool = Field(
        True,
        description="the directory decides what it reads in event-time order, waiting for the intake and the DmfA "
        "step to have handled everything earlier (topologies.alignment): a replay from offset 0 gives the live run's "
        "outputs",
    )
    alignment_max_hold_s: float = Field(
        900.0,
        gt=0,
        description="longest the directory holds an event waiting for its upstream's progress; past it the event "
        "is decided anyway and a warning logged (a guard against a stall, not a backlog limit)",
    )
    alignment_grace_ms: int = Field(
        10,
        ge=0,
        description="how long after an event's time (the broker's append time) the directory takes a quiet upstream "
        "partition's high watermark, as fetched, to be complete: the skew between the broker's clock and the "
        "worker's",
    )
    directory_purge_interval_s: float = Field(
        86_400.0,
        ge=0,
        description="how often the directory purges what is past its retention period (retention_*_years) from the "
        "person files of its partitions, the first time one interval after the start; 0: only on SIGUSR2 "
        "(docs/directory.md)",
    )
    duplicate_reference_days: int = Field(
        30,
        ge=1,
        description="how long the intake remembers an admitted declaration's sender reference: the same "
        "reference for the same subject within it is refused as a resend (envelope.duplicate_reference); "
        "our choice, the seed gives no period",
    )

    # Platform
    environment: Literal["production", "test"] = "production"
    state_dir: Path = Field(PROJECT_ROOT / ".crossroads", description="local stack data, caches and logs")
    schema_dir: Path = Field(PROJECT_ROOT / "avro_schemas", description="the Avro contracts")
    migrations_dir: Path = Field(PROJECT_ROOT / "deploy" / "clickhouse" / "migrations")
    network_dir: Path = Field(
        PROJECT_ROOT / "deploy" / "network" / "v1",
        description="the network as data: sectors, institutions, authorization matrix (validated at start-up)",
    )
    topic_prefix: str = Field("crossroads", description="first segment of every topic name")
    access_secret: SecretStr = Field(
        # DEVELOPMENT DEFAULT ONLY: public in the source, so it protects nothing. Production sets
        # CROSSROADS_ACCESS_SECRET from its secret store.
        SecretStr("dev-only-access-secret-not-secret"),
        description="the secret every actor's Kafka password and intake seal key is derived from"
        " (streams.domain.credentials)",
    )
    audit_seal_file: Path | None = Field(
        None,
        description="the verified heads of the audit chains (`crossroads audit verify`): the operator's file, never "
        "writable by the worker; unset: <state_dir>/audit/verified-heads.json",
    )

    # Warehouse: pseudonyms, re-identification, statistics, OASIS, retention (docs/warehouse.md, docs/analysts.md)
    pseudonym_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {
            # DEVELOPMENT DEFAULTS ONLY: public in the source, so they protect nothing. Production sets
            # CROSSROADS_PSEUDONYM_KEYS='{"statistics": "<random 32+ bytes>", "oasis": "<another>"}' from its
            # secret store. Exactly the purposes the warehouse projects (streams.domain.pseudonyms.purpose_problems).
            "statistics": SecretStr("dev-only-statistics-key-not-secret"),
            "oasis": SecretStr("dev-only-oasis-key-not-secret"),
        },
        description="HMAC-SHA256 key per purpose: pseudonyms of two purposes cannot be linked without the keys",
    )
    warehouse_purpose: str = Field(
        "statistics", description="the statistics purpose: its key pseudonymizes persons in the statistics database"
    )
    oasis_purpose: str = Field(
        "oasis",
        description="the anti-fraud purpose: its key pseudonymizes persons in the OASIS tables (<db>_oasis); the "
        "only purpose under which a pseudonym can be re-identified",
    )
    reidentification_grants: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            # DEVELOPMENT DEFAULT: the sample network's social inspection service may re-identify OASIS hits
            "0403170701": {"oasis": "dev-only: sample deliberation for OASIS re-identification"},
        },
        description="requester (enterprise number) -> purpose -> legal basis under which it may re-identify; "
        "the anti-fraud purpose only",
    )
    small_cell_threshold: int = Field(5, ge=1, description="published cells counting fewer persons are suppressed")
    oasis_above_sector_factor: float = Field(
        1.5, gt=0, description="an employer's rate is 'above its sector' when > factor x the sector's rate"
    )
    oasis_temporary_unemployment_days: int = Field(
        20, ge=1, description="temporary-unemployment days in a quarter that, with new hires, raise a flag"
    )
    oasis_hires_with_unemployment: int = Field(1, ge=1, description="new hires in that quarter that raise it")
    oasis_massive_hires: int = Field(10, ge=1, description="hires within one window that count as massive")
    oasis_massive_window_days: int = Field(7, ge=1, description="the window of massive hiring, in days")
    oasis_cancellations: int = Field(5, ge=1, description="cancelled DIMONA in a quarter that raise a flag")
    retention_dimona_years: int = Field(7, ge=1, description="DIMONA relations ended longer ago are deleted")
    retention_dmfa_years: int = Field(7, ge=1, description="DmfA quarters older than this are deleted")
    retention_directory_years: int = Field(10, ge=1, description="directory entries closed longer ago are deleted")
    retention_deceased_years: int = Field(
        30, ge=1, description="civil events and pseudonym mappings of persons dead longer ago are deleted"
    )
    retention_audit_years: int = Field(
        10, ge=1, description="audit records older than this leave the warehouse and the audit topic"
    )
    retention_rejections_days: int = Field(
        30,
        ge=1,
        description="rejections quote whole refused declarations (raw personal data): kept long enough for the sender "
        "to correct and resend and for an operator to look, then deleted from Kafka",
    )
    retention_dead_letters_days: int = Field(
        30, ge=1, description="dead letters keep a message's raw bytes: the time to triage and replay them"
    )
    projector_retry_for_s: float = Field(
        120.0,
        ge=0,
        description="how long the projector retries an insert while ClickHouse is unreachable before it crashes",
    )
    projector_crash_after_inserts: int | None = Field(
        None, description="TEST HOOK: the projector exits (137) right after its Nth insert, before committing"
    )

    @model_validator(mode="before")
    @classmethod
    def _kafka_follows_its_brokers(cls, data: Any) -> Any:
        """Derive what the broker count implies unless it was given: the bootstrap list (every broker, so a
        client still connects with any one of them down) and the replication factor; a bootstrap list of several
        brokers gives the count when that is not given. Given values must agree.

        Runs before field validation to know what was given (env or arguments); values may still be strings."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        bootstrap = str(data.get("kafka_bootstrap", cls.model_fields["kafka_bootstrap"].default))
        addresses = [a.strip() for a in bootstrap.split(",") if a.strip()]
        if "kafka_brokers" not in data and len(addresses) > 1:
            data["kafka_brokers"] = len(addresses)
        try:
            brokers = int(data.get("kafka_brokers", 1))
        except (TypeError, ValueError):
            return data  # the field's own validation reports it
        if brokers < 1:
            return data
        if len(addresses) == 1 and brokers > 1:
            host, port = _host_port(addresses[0])
            data["kafka_bootstrap"] = ",".join(f"{host}:{port + LOCAL_PORT_STEP * i}" for i in range(brokers))
        elif len(addresses) > 1 and len(addresses) != brokers:
            raise ValueError(
                f"CROSSROADS_KAFKA_BOOTSTRAP lists {len(addresses)} brokers but CROSSROADS_KAFKA_BROKERS is "
                f"{brokers}: list every broker, or give one address and let the others follow it"
            )
        if "replication_factor" not in data:
            data["replication_factor"] = min(brokers, MAX_DEFAULT_REPLICATION)
        return data

    @model_validator(mode="before")
    @classmethod
    def _ca_of_the_stack(cls, data: Any) -> Any:
        """The CA is the stack's, resolved once: a copy of these settings with another state directory (a test
        session's, a bench replica's) still trusts the broker it talks to."""
        if isinstance(data, dict) and not data.get("kafka_ca_file"):
            data = dict(data)
            data["kafka_ca_file"] = (
                Path(data.get("state_dir") or cls.model_fields["state_dir"].default) / "tls" / "ca.crt"
            )
        return data

    @model_validator(mode="after")
    def _purposes_are_real(self) -> Settings:
        """Each purpose keyed and projected, distinct, and re-identification granted for the anti-fraud one only:
        refused at start-up rather than discovered by the projector or a re-identification."""
        problems = purpose_problems(
            {purpose: key.get_secret_value() for purpose, key in self.pseudonym_keys.items()},
            self.warehouse_purpose,
            self.oasis_purpose,
            self.reidentification_grants,
        )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _replicas_fit_the_cluster(self) -> Settings:
        if self.replication_factor > self.kafka_brokers:
            raise ValueError(
                f"CROSSROADS_REPLICATION_FACTOR={self.replication_factor} needs at least that many brokers, "
                f"but CROSSROADS_KAFKA_BROKERS={self.kafka_brokers}"
            )
        return self

    @field_serializer("pseudonym_keys")
    def _keys_as_json(self, keys: dict[str, SecretStr]) -> str:
        # as_env() hands settings to child processes, which read dict fields as JSON: the keys must survive
        return json.dumps({purpose: key.get_secret_value() for purpose, key in keys.items()})

    @field_serializer("access_secret")
    def _secret_in_clear(self, secret: SecretStr) -> str:
        # as_env() hands it to child processes, which derive their own credentials from it
        return secret.get_secret_value()

    @field_serializer("kafka_password")
    def _password_in_clear(self, password: SecretStr | None) -> str | None:
        return None if password is None else password.get_secret_value()

    @field_serializer("clickhouse_projector_password")
    def _projector_password_in_clear(self, secret: SecretStr) -> str:
        # as_env() hands it to the projector process, which logs in with it
        return secret.get_secret_value()

    @field_serializer("reidentification_grants")
    def _grants_as_json(self, grants: dict[str, dict[str, str]]) -> str:
        return json.dumps(grants)

    def as_env(self) -> dict[str, str]:
        """These settings as CROSSROADS_* variables, to hand them to a child process (worker, projector)."""
        env = {}
        for name, value in self.model_dump().items():
            if value is not None:
                env[f"CROSSROADS_{name.upper()}"] = str(value)
        return env

    @property
    def kafka_secret(self) -> str:
        """The SCRAM password of `kafka_principal`."""
        if self.kafka_password is not None:
            return self.kafka_password.get_secret_value()
        from streams.domain.credentials import derived_password

        return derived_password(self.access_secret.get_secret_value(), self.kafka_principal)

    @property
    def kafka_ca(self) -> Path:
        return self.kafka_ca_file or self.state_dir / "tls" / "ca.crt"  # set by _ca_of_the_stack

    def as_principal(self, principal: str, password: str | None = None) -> Settings:
        """These settings logging in as another Kafka user (its derived password unless one is given)."""
        return self.model_copy(
            update={"kafka_principal": principal, "kafka_password": None if password is None else SecretStr(password)}
        )

    @property
    def kafka_host_port(self) -> tuple[str, int]:
        """The first broker's address."""
        return self.kafka_addresses[0]

    @property
    def kafka_addresses(self) -> list[tuple[str, int]]:
        """Every bootstrap address, in order: on the local stack, node i listens on the i-th."""
        return [_host_port(a.strip()) for a in self.kafka_bootstrap.split(",") if a.strip()]

    @property
    def kafka_min_insync_replicas(self) -> int:
        """Replicas that must have a write before acks=all succeeds: all but one, at least one. With three, a
        write is on two brokers before it is acknowledged, and one broker may be down without stopping producers."""
        return max(1, self.replication_factor - 1)

    @property
    def clickhouse(self) -> ClickHouseAddress:
        return ClickHouseAddress.parse(self.clickhouse_url)

    @property
    def clickhouse_projector(self) -> ClickHouseAddress:
        """The warehouse of `clickhouse_url`, as the projector's user."""
        return self.clickhouse.as_user(self.clickhouse_projector_user, self.clickhouse_projector_password)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


class ClickHouseAddress:
    """The parts of `clickhouse_url`, for the driver and for the local server's config."""

    __slots__ = ("database", "host", "password", "port", "user")

    def __init__(self, host: str, port: int, user: str, password: str, database: str) -> None:
        self.host, self.port, self.user, self.password, self.database = host, port, user, password, database

    @classmethod
    def parse(cls, url: str) -> ClickHouseAddress:
        parts = urlparse(url)
        if parts.scheme not in ("clickhouse", "tcp"):
            raise ValueError(f"CROSSROADS_CLICKHOUSE_URL must be clickhouse://…, got {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 9000,
            user=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=(parts.path or "/").lstrip("/") or "crossroads",
        )

    def as_user(self, user: str, password: SecretStr) -> ClickHouseAddress:
        """The same server and database, logged in as another user."""
        return ClickHouseAddress(self.host, self.port, user, password.get_secret_value(), self.database)

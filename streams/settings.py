"""One settings object for the whole platform, read once from the environment and injected everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import Field, SecretStr, field_serializer
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Everything configurable, with defaults that point at the local stack (`crossroads stack up`)."""

    model_config = SettingsConfigDict(env_prefix="CROSSROADS_", frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="bootstrap servers, host:port[,host:port]")
    kafka_controller_port: int = Field(9093, description="KRaft controller port of the local broker")
    kafka_version: str = Field("4.4.0", description="Apache Kafka release the local stack resolves")
    kafka_heap: str = Field("1g", description="JVM heap of the local broker")
    default_partitions: int = Field(6, ge=1)
    replication_factor: int = Field(1, ge=1)
    schema_registry_url: str | None = Field(
        None, description="Confluent Schema Registry; when set, the codec also speaks its wire framing"
    )

    # ClickHouse
    clickhouse_url: str = Field(
        "clickhouse://default:@127.0.0.1:9000/crossroads",
        description="native-protocol URL of the warehouse (clickhouse://user:password@host:port/database)",
    )
    clickhouse_http_port: int = Field(8123, description="HTTP port of the local ClickHouse server")

    # Faust
    app_id: str = Field("crossroads", description="faust application id (consumer group, changelog prefix)")
    store: str = Field("memory://", description="faust table store: memory:// or rocksdb://")
    web_enabled: bool = Field(False, description="run faust's web server in the worker (not needed by the platform)")
    web_port: int = Field(6066, description="faust web port of the worker, when enabled")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    consumer_fetch_max_wait_ms: int = Field(
        50, ge=1, description="longest a worker's fetch waits for data (faust's own is a fixed 1,500 ms)"
    )
    batch_max_events: int = Field(
        1000, ge=1, description="most events a flow (intake, directory) takes from its input at once"
    )
    batch_within_ms: int = Field(
        10, ge=1, description="longest a flow waits to fill a batch before handling what it has"
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

    # Warehouse: pseudonyms, re-identification, statistics, OASIS, retention (docs/warehouse.md, docs/analysts.md)
    pseudonym_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {
            # DEVELOPMENT DEFAULTS ONLY: public in the source, so they protect nothing. Production sets
            # CROSSROADS_PSEUDONYM_KEYS='{"statistics": "<random 32+ bytes>", ...}' from its secret store.
            "statistics": SecretStr("dev-only-statistics-key-not-secret"),
            "oasis": SecretStr("dev-only-oasis-key-not-secret"),
            "research": SecretStr("dev-only-research-key-not-secret"),
        },
        description="HMAC-SHA256 key per purpose: pseudonyms of two purposes cannot be linked without the keys",
    )
    warehouse_purpose: str = Field(
        "statistics", description="the purpose whose key pseudonymizes persons in the statistics database"
    )
    reidentification_grants: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {
            # DEVELOPMENT DEFAULT: the sample network's social inspection service may re-identify OASIS hits
            "0403170701": {"oasis": "dev-only: sample deliberation for OASIS re-identification"},
        },
        description="requester (enterprise number) -> purpose -> legal basis under which it may re-identify",
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
    retention_audit_years: int = Field(10, ge=1, description="audit records older than this leave the warehouse")
    projector_crash_after_inserts: int | None = Field(
        None, description="TEST HOOK: the projector exits (137) right after its Nth insert, before committing"
    )

    @field_serializer("pseudonym_keys")
    def _keys_as_json(self, keys: dict[str, SecretStr]) -> str:
        # as_env() hands settings to child processes, which read dict fields as JSON: the keys must survive
        return json.dumps({purpose: key.get_secret_value() for purpose, key in keys.items()})

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
    def kafka_host_port(self) -> tuple[str, int]:
        first = self.kafka_bootstrap.split(",")[0]
        host, _, port = first.rpartition(":")
        return host, int(port)

    @property
    def clickhouse(self) -> ClickHouseAddress:
        return ClickHouseAddress.parse(self.clickhouse_url)


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

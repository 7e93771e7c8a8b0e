"""One settings object for the whole platform, read once from the environment and injected everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlparse

from pydantic import Field
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
    web_port: int = Field(6066, description="faust web port of the worker")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"

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

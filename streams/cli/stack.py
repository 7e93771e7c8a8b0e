"""`crossroads stack up | down | status`: the local Kafka (one node or a cluster) and ClickHouse, without Docker.
`crossroads stack certificates | credentials`: the same TLS material and super users' credentials for a broker
this project does not start (docker-compose.yml's one-shot `kafka-secrets`)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from streams.observability.exporter import targets_dir
from streams.settings import Settings
from streams.stack.errors import StackError
from streams.stack.kafka import found_brokers
from streams.stack.local import LocalStack
from streams.stack.prometheus import local_url

app = typer.Typer(help="Run the local stack (Kafka KRaft broker + ClickHouse server) as processes of the project.")
console = Console()

ONLY = typer.Option(None, "--only", help="kafka, clickhouse or prometheus (repeatable); default all of the stack")
MONITORING = typer.Option(
    False, "--with-monitoring", help="also a Prometheus scraping every platform process (docs/operations.md)"
)
BROKERS = typer.Option(
    None,
    "--brokers",
    min=1,
    help="Kafka nodes (each broker+controller, node i on the ports + 2(i-1)); default CROSSROADS_KAFKA_BROKERS, 1",
)
DIRECTORY = typer.Option(..., "--dir", file_okay=False, help="where to write the files (made if missing)")
GROUP_READABLE = typer.Option(
    False,
    "--group-readable",
    help="let the directory's group read what the broker needs (a broker container running as another user of"
    " that group); the CA key stays private",
)
BROKERS_FOUND = typer.Option(
    None,
    "--brokers",
    min=1,
    help="Kafka nodes; default CROSSROADS_KAFKA_BROKERS, else the Kafka found in the state directory",
)


def _env_brokers() -> int | None:
    # pydantic-settings matches variable names case-insensitively; so does this
    for name, value in os.environ.items():
        if name.upper() == "CROSSROADS_KAFKA_BROKERS":
            try:
                return int(value)
            except ValueError:
                return None  # Settings() reports it
    return None


def _settings(brokers: int | None, *, find_running: bool = False) -> Settings:
    """Settings with the broker count of --brokers, which must agree with CROSSROADS_KAFKA_BROKERS when both are
    given, so that the bootstrap list and replication factor derived from it are the ones the stack runs with.
    With `find_running` and neither given, the count of the Kafka of ours found in the state directory (running,
    else the only one with data), so that `status` and `down` recognise a cluster started with --brokers."""
    from_env = _env_brokers()
    if brokers is not None and from_env is not None and brokers != from_env:
        console.print(f"[red]--brokers {brokers} disagrees with CROSSROADS_KAFKA_BROKERS={from_env}[/red]")
        raise typer.Exit(2)
    try:
        if brokers is None and from_env is None and find_running:
            brokers = found_brokers(Settings().state_dir)
        return Settings(kafka_brokers=brokers) if brokers is not None else Settings()
    except ValidationError as exc:
        console.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def up(only: list[str] | None = ONLY, brokers: int | None = BROKERS, monitoring: bool = MONITORING) -> None:
    """Install what is missing, start what is not running, wait until each answers. Idempotent."""
    settings = _settings(brokers)
    stack = LocalStack(settings, tuple(only or ()), monitoring=monitoring)
    try:
        results = stack.up(on_event=lambda msg: console.print(f"[dim]{msg}[/dim]"))
    except StackError as exc:
        console.print(f"[red]stack up failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    for r in results:
        verb = "started" if r.started else "already running"
        console.print(f"[green]✓[/green] {r.service} {verb} ({r.seconds:.1f}s)")
        if r.service == "kafka" and settings.kafka_brokers > 1:
            console.print(
                f"  {settings.kafka_brokers} nodes, bootstrap {settings.kafka_bootstrap}, replication factor "
                f"{settings.replication_factor}, min ISR {settings.kafka_min_insync_replicas} — give the workers "
                f"CROSSROADS_KAFKA_BROKERS={settings.kafka_brokers}"
            )
        if r.service == "prometheus":
            console.print(f"  {local_url(settings)} scrapes what announces itself in {targets_dir(settings)}")


@app.command()
def down(only: list[str] | None = ONLY) -> None:
    """Stop the processes this project started (by pid file; never by process name): every Kafka node, whatever
    their number. Data is kept."""
    stopped = LocalStack(_settings(None, find_running=True), tuple(only or ())).down()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@app.command()
def status(only: list[str] | None = ONLY, brokers: int | None = BROKERS_FOUND) -> None:
    """Versions, ports, pids and data directories of the local stack (each node of a Kafka cluster)."""
    statuses = LocalStack(_settings(brokers, find_running=True), tuple(only or ())).status()
    table = Table("service", "state", "version", "pid", "ports", "data directory", "log")
    for s in statuses:
        state = "[green]running[/green]" if s.running else "[red]stopped[/red]"
        if s.running and not s.ours:
            state = "[yellow]running (not ours)[/yellow]"
        elif not s.running and s.pid is not None:
            state = "[red]not answering[/red]"  # alive but not serving: starting, stopped (SIGSTOP) or fenced
        ports = " ".join(f"{k}={v}" for k, v in s.ports.items())
        table.add_row(
            s.name,
            state,
            s.version or "-",
            str(s.pid or "-"),
            ports or "-",
            str(s.data_dir or "-"),
            str(s.log_file or "-"),
        )
    console.print(table)
    if not all(s.running for s in statuses):
        raise typer.Exit(3)


@app.command()
def certificates(
    directory: Path = DIRECTORY,
    hosts: list[str] = typer.Option(
        ..., "--host", help="a name clients reach the broker by (repeatable); localhost and 127.0.0.1 always"
    ),
    group_readable: bool = GROUP_READABLE,
) -> None:
    """A CA (ca.crt, ca.key) and a broker certificate signed by it naming every HOST (broker.pem: key and chain,
    PEM), as `stack up` makes them. Idempotent: kept while the hosts are the same; the CA is always kept."""
    from streams.stack.tls import ensure_certificates, share_with_group

    files = ensure_certificates(directory, hosts)
    if group_readable:
        share_with_group(files)
    names = " ".join(files.broker_hosts.read_text().split())
    console.print(f"CA {files.ca_cert}, broker certificate {files.broker_pem} for {names}")


@app.command()
def credentials(
    directory: Path = DIRECTORY,
    truststore: Path | None = typer.Option(
        None, "--truststore", help="the CA certificate the operator's client trusts; default DIR/ca.crt"
    ),
    group_readable: bool = GROUP_READABLE,
) -> None:
    """The super users' SCRAM passwords (broker.password, operator.password: derived from
    CROSSROADS_ACCESS_SECRET) for the broker's `kafka-storage format --add-scram`, and the operator's Java client
    properties (operator.properties, for kafka-*.sh --command-config)."""
    from streams.stack.superusers import SUPER_USERS, write_superuser_files

    settings = Settings()
    files = write_superuser_files(
        directory,
        settings.access_secret.get_secret_value(),
        truststore=truststore or directory / "ca.crt",
        group_readable=group_readable,
    )
    console.print(
        f"SCRAM passwords of {', '.join(SUPER_USERS)} and the operator's client properties in {files.directory}"
    )

"""`crossroads projector`: facts and the audit trail -> the ClickHouse warehouse.

Projections: the walking skeleton's `journey`, the pseudonymised statistics tables (statistics purpose), the
OASIS tables (`<database>_oasis`, anti-fraud purpose), each purpose's pseudonym mapping (`<database>_reid`) and
the audit log (`<database>_audit`), see docs/warehouse.md.
"""

from __future__ import annotations

import logging
import signal
import threading

import typer

from streams.access import Service
from streams.composition import codec_for
from streams.deployment import as_service
from streams.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def projector(
        flush_rows: int = typer.Option(10_000, help="flush when this many rows are pending"),
        flush_seconds: float = typer.Option(1.0, help="…or when the oldest pending row is this old"),
        idle_exit: float | None = typer.Option(None, help="exit after this many seconds without a message"),
        group_id: str | None = typer.Option(None, help="consumer group (default: <app_id>-projector)"),
    ) -> None:
        """Project the facts topics into ClickHouse: batched inserts, offsets committed after each insert."""
        from connectors.clickhouse.journey import JourneyProjection
        from connectors.clickhouse.projector import Projection, Projector
        from connectors.clickhouse.warehouse import warehouse_projections
        from streams.observability.exporter import serve
        from streams.observability.metrics import PlatformMetrics
        from streams.observability.sampling import Sampler, lag_of, verified_heads

        logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s")
        settings = as_service(Settings(), Service.PROJECTOR)
        codec = codec_for(settings)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        projections: list[Projection] = [JourneyProjection(), *warehouse_projections(settings)]
        metrics = PlatformMetrics.on()
        runner = Projector(
            settings,
            projections,
            codec,
            group_id=group_id,
            flush_rows=flush_rows,
            flush_seconds=flush_seconds,
            # least privilege: its own user, who may write the warehouse's three databases and administer nothing
            clickhouse=settings.clickhouse_projector,
            metrics=metrics,
        )
        serve(settings, "projector", settings.metrics_projector_port, metrics)
        topics = runner.topics
        Sampler(
            settings, [lag_of(settings, metrics, runner.group_id, lambda: topics), verified_heads(settings, metrics)]
        ).start()
        stats = runner.run(stop, idle_exit_s=idle_exit)
        typer.echo(f"projector stopped: {stats}")

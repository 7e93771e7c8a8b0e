"""`crossroads worker`: runs the platform's faust application (all registered flows)."""

from __future__ import annotations

import typer

from streams.access import Service
from streams.deployment import as_service
from streams.settings import Settings


def register(app: typer.Typer) -> None:
    @app.command()
    def worker(
        loglevel: str = typer.Option("info", help="faust log level"),
        web_port: int | None = typer.Option(None, help="faust web port (default from settings)"),
    ) -> None:
        """Run the stream workers (intake, projection, …) until interrupted."""
        from topologies.app import run_worker  # imported late: faust is heavy and not needed by other commands

        settings = as_service(Settings(), Service.WORKER)
        if web_port is not None:
            settings = settings.model_copy(update={"web_port": web_port})
        run_worker(settings, loglevel=loglevel)

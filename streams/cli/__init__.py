"""The `crossroads` command line: one typer app, one sub-module per area."""

from __future__ import annotations

import typer

from streams.cli import (
    access,
    audit,
    bench,
    check,
    connectors,
    dead_letters,
    demo,
    directory,
    generate,
    mailbox,
    network,
    projector,
    send,
    stack,
    status,
    topics,
    warehouse,
    worker,
)

app = typer.Typer(
    name="crossroads",
    help="Crossroads — social-security data between institutions: validated once, shared with the entitled, logged.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(stack.app, name="stack")
app.add_typer(topics.app, name="topics")
app.add_typer(access.app, name="access")
app.add_typer(warehouse.app, name="warehouse")
app.add_typer(check.app, name="check")
app.add_typer(directory.app, name="directory")
app.add_typer(mailbox.app, name="mailbox")
app.add_typer(audit.app, name="audit")
app.add_typer(network.app, name="network")
app.add_typer(connectors.app, name="connectors")
app.add_typer(dead_letters.app, name="dead-letters")
worker.register(app)
projector.register(app)
send.register(app)
generate.register(app)
bench.register(app)
demo.register(app)
status.register(app)


def main() -> None:
    app()

"""`crossroads access apply | show | client-config`: who may do what on the broker (docs/security.md)."""

from __future__ import annotations

import typer
from rich.console import Console

from streams.access import find
from streams.deployment import deployment_plan
from streams.domain.seal import seal_key_hex
from streams.kafka import KafkaAdapterError
from streams.kafka.security import client_config
from streams.settings import Settings

app = typer.Typer(
    help="Kafka users and ACLs derived from the network: apply, show, client configs.", no_args_is_help=True
)
console = Console()


@app.command()
def apply() -> None:
    """Create or refresh every principal's SCRAM credentials and ACLs (idempotent; run as the operator)."""
    from streams.kafka.access import AccessAdmin

    settings = Settings()
    plan = deployment_plan(settings)
    try:
        changes = AccessAdmin(settings).apply(plan)
    except KafkaAdapterError as exc:
        console.print(f"[red]access apply failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    granted = sum(1 for c in changes if c.action == "granted")
    roles = sorted({p.role for p in plan})
    counts = ", ".join(f"{sum(1 for p in plan if p.role == role)} {role}" for role in roles)
    console.print(
        f"{len(plan)} principals ({counts}): credentials set, "
        f"{granted} ACLs created, {sum(len(p.grants) for p in plan) - granted} already there"
    )


@app.command()
def show(
    actor: str = typer.Argument(..., help="a service (worker, projector, inbound, outbound) or an enterprise number"),
    broker: bool = typer.Option(False, "--broker", help="list the ACLs the broker holds, not the plan's"),
) -> None:
    """An actor's rights: what the plan grants it (or, with --broker, what the broker has)."""
    settings = Settings()
    principal = find(deployment_plan(settings), actor)
    if principal is None:
        console.print(f"[red]{actor} is no principal of this deployment[/red] (a service or an institution)")
        raise typer.Exit(2)
    grants = list(principal.grants)
    if broker:
        from streams.kafka.access import AccessAdmin

        try:
            grants = [g for _, g in AccessAdmin(settings).grants(actor)]
        except KafkaAdapterError as exc:
            console.print(f"[red]access show failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    console.print(f"User:{principal.name} ({principal.role}), authenticated by SCRAM-SHA-512")
    for grant in grants:
        console.print(f"  allow {grant.describe()}")
    if not grants:
        console.print("  (nothing)")


@app.command("client-config")
def client_config_(
    actor: str = typer.Argument(..., help="a service or an institution's enterprise number"),
) -> None:
    """The properties a confluent-kafka client of ACTOR needs (bootstrap, protocol, credentials, CA)."""
    settings = Settings()
    principal = find(deployment_plan(settings), actor)
    if principal is None:
        console.print(f"[red]{actor} is no principal of this deployment[/red] (a service or an institution)")
        raise typer.Exit(2)
    config = client_config(settings.as_principal(actor))
    print(f"# Kafka client of User:{actor}: pass these to confluent_kafka.Producer/Consumer (librdkafka names)")
    if principal.role == "institution":
        from streams.access import consumer_group_prefix

        print(f"# consumer groups must start with {consumer_group_prefix(settings.topic_prefix, actor)}")
    if principal.role != "service":
        key = seal_key_hex(settings.access_secret.get_secret_value(), actor)
        print(f"# crossroads-seal key: {key}  (HMAC-SHA256 of topic + value, per intake record: docs/security.md)")
    for key, value in config.items():
        print(f"{key}={value}")

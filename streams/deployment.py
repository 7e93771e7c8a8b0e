"""A deployment's access: its principals from the network, and the settings each service logs in with."""

from __future__ import annotations

from streams.access import Principal, Service, access_plan
from streams.composition import network_for
from streams.settings import Settings


def deployment_plan(settings: Settings) -> tuple[Principal, ...]:
    """The access plan of the deployment the settings describe (topic prefix, app id, network)."""
    network = network_for(settings)
    sources: dict[str, list[str]] = {}
    for source in network.authentic_sources:
        # a namespace (be.crossroads.civil) or a schema (be.crossroads.civil.Death): its family is the third part
        sources.setdefault(source.enterprise_number, []).append(source.declarations.split(".")[2])
    return access_plan(settings.topic_prefix, settings.app_id, network.institutions, sources, network.secretariats)


def as_service(settings: Settings, service: Service) -> Settings:
    """The settings a platform service runs with: logged in as its own principal, never the operator's.
    On the plaintext baseline stack there is no login, so nothing changes."""
    if settings.kafka_security == "plaintext":
        return settings
    return settings.as_principal(service.value)


def grant_deployment(settings: Settings) -> None:
    """Apply the deployment's access plan as the operator (what `crossroads access apply` does): the
    launchers call it before starting services, so a new topic prefix (a test session, a bench run) gets its
    grants."""
    if settings.kafka_security == "plaintext":
        return
    from streams.kafka.access import AccessAdmin  # confluent-kafka: imported late

    AccessAdmin(settings).apply(deployment_plan(settings))

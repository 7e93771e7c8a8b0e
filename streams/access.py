"""Who may do what on the broker, as data: the principals and their ACLs, derived from the network.

Pure: the plan is computed from the topic prefix, the application id and the network's actors; applying it
(SCRAM credentials and ACLs) is `streams.kafka.access`, printing it `crossroads access` (docs/security.md).

Principals (Kafka users, authenticated by SCRAM-SHA-512):
* ``broker`` and ``operator`` are the only super users (made when the stack's storage is formatted);
* each platform service has its own user, with only what its flow needs: ``worker`` (the faust flows: reads
  intake, writes facts, outcomes, audit, directory, consultations and mailboxes, owns its changelogs and its
  group), ``projector`` (reads facts and the audit trail, writes dead letters), ``inbound`` (the file-drop
  connector: writes intake, reads it back to find its records), ``outbound`` (reads mailboxes to drain them
  into partner folders, including each employer's share of the shared employers' mailbox);
* each institution of the network is a user named by its enterprise number: it may write the intake topics,
  read only its own mailbox, and use consumer groups under ``<prefix>.<enterprise number>.`` only;
* an authentic source (the National Register) may write the intake topic of what it is the source of (civil),
  and a social secretariat the DIMONA and DmfA intake topics; neither reads any mailbox. Employers are no Kafka
  users; employers and secretariats get their share of the employers' mailbox through the outbound
  connector's folders.

Every grant is scoped to one topic prefix and application id, so several deployments (or test sessions) share
a broker without seeing each other's data; `revoke` removes one prefix's grants.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from streams.catalog import CATALOG, Area, mailbox

BROKER = "broker"
OPERATOR = "operator"
SUPER_USERS = (BROKER, OPERATOR)


class Service(StrEnum):
    WORKER = "worker"
    PROJECTOR = "projector"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Resource(StrEnum):
    TOPIC = "topic"
    GROUP = "group"
    TRANSACTIONAL_ID = "transactional_id"
    CLUSTER = "cluster"


class Pattern(StrEnum):
    LITERAL = "literal"
    PREFIXED = "prefixed"


class Operation(StrEnum):
    READ = "read"
    WRITE = "write"
    CREATE = "create"
    DESCRIBE = "describe"
    DESCRIBE_CONFIGS = "describe_configs"
    IDEMPOTENT_WRITE = "idempotent_write"


@dataclass(frozen=True, order=True)
class Grant:
    """One ACL: `operation` allowed on the resources `pattern`-matching `name`."""

    resource: Resource
    pattern: Pattern
    name: str
    operation: Operation

    def describe(self) -> str:
        match = "" if self.pattern is Pattern.LITERAL else "*"
        return f"{self.operation:<16} {self.resource} {self.name}{match}"


@dataclass(frozen=True)
class Principal:
    name: str
    role: str  # "service" or "institution"
    grants: tuple[Grant, ...]

    @property
    def user(self) -> str:
        return f"User:{self.name}"


def _grants(resource: Resource, pattern: Pattern, name: str, *operations: Operation) -> list[Grant]:
    return [Grant(resource, pattern, name, operation) for operation in operations]


def _intake_topics(prefix: str) -> list[str]:
    return [spec.topic(prefix) for spec in CATALOG if spec.area is Area.INTAKE]


def consumer_group_prefix(prefix: str, actor: str) -> str:
    """The consumer groups an institution may use: ``<prefix>.<enterprise number>.<anything>``."""
    return f"{prefix}.{actor}."


R, W, C, D, DC = Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE, Operation.DESCRIBE_CONFIGS


def service_grants(service: Service, prefix: str, app_id: str) -> tuple[Grant, ...]:
    topic, group = Resource.TOPIC, Resource.GROUP
    lit, pre = Pattern.LITERAL, Pattern.PREFIXED
    grants: list[Grant] = []
    if service is Service.WORKER:
        # the core flows read and write most of the platform's topics (never created by it: the catalog is
        # applied by the operator), plus faust's own topics (changelogs, the assignor's) under the app id
        grants += _grants(topic, pre, f"{prefix}.", R, W, D, DC)
        grants += _grants(topic, pre, f"{app_id}-", R, W, C, D, DC)
        grants += _grants(group, lit, app_id, R, D)
        grants += _grants(group, pre, f"{app_id}-reader-", R, D)  # streams.kafka.audit_log's readers
        grants += _grants(Resource.TRANSACTIONAL_ID, pre, app_id, W, D)
        grants += _grants(Resource.CLUSTER, lit, "kafka-cluster", Operation.IDEMPOTENT_WRITE)
    elif service is Service.PROJECTOR:
        grants += _grants(topic, pre, f"{prefix}.{Area.FACTS}.", R, D)
        grants += _grants(topic, lit, f"{prefix}.{Area.AUDIT}.exchanges.v1", R, D)
        grants += _grants(topic, lit, f"{prefix}.{Area.OUTCOMES}.dead-letters.v1", W, D)
        grants += _grants(group, pre, f"{app_id}-projector", R, D)
        grants += _grants(Resource.CLUSTER, lit, "kafka-cluster", Operation.IDEMPOTENT_WRITE)
    elif service is Service.INBOUND:
        for name in _intake_topics(prefix):
            grants += _grants(topic, lit, name, R, W, D)
        grants += _grants(group, lit, f"{app_id}-files-inbound", R, D)
        grants += _grants(Resource.CLUSTER, lit, "kafka-cluster", Operation.IDEMPOTENT_WRITE)
    elif service is Service.OUTBOUND:
        grants += _grants(topic, pre, f"{prefix}.{Area.MAILBOX}.", R, D)
        grants += _grants(group, pre, f"{app_id}-outbound-", R, D)
    return tuple(sorted(grants))


def institution_grants(actor: str, prefix: str) -> tuple[Grant, ...]:
    grants: list[Grant] = []
    for name in _intake_topics(prefix):
        grants += _grants(Resource.TOPIC, Pattern.LITERAL, name, W, D)
    grants += _grants(Resource.TOPIC, Pattern.LITERAL, mailbox(actor).topic(prefix), R, D)
    grants += _grants(Resource.GROUP, Pattern.PREFIXED, consumer_group_prefix(prefix, actor), R, D)
    grants += _grants(Resource.CLUSTER, Pattern.LITERAL, "kafka-cluster", Operation.IDEMPOTENT_WRITE)
    return tuple(sorted(grants))


def declarer_grants(prefix: str, families: Iterable[str]) -> tuple[Grant, ...]:
    """An actor that only declares: write (and describe) the intake topics of those families."""
    grants: list[Grant] = []
    for family in sorted(set(families)):
        grants += _grants(Resource.TOPIC, Pattern.LITERAL, f"{prefix}.{Area.INTAKE}.{family}.v1", W, D)
    grants += _grants(Resource.CLUSTER, Pattern.LITERAL, "kafka-cluster", Operation.IDEMPOTENT_WRITE)
    return tuple(sorted(grants))


# what a social secretariat declares for the employers that mandated it (the intake checks the mandate)
SECRETARIAT_FAMILIES = ("dimona", "dmfa")


def access_plan(
    prefix: str,
    app_id: str,
    institutions: Iterable[str],
    authentic_sources: Mapping[str, Iterable[str]] | None = None,
    secretariats: Iterable[str] = (),
) -> tuple[Principal, ...]:
    """Every principal of one deployment (topic prefix + application id) with its grants: the services, the
    institutions, the authentic sources (actor -> the intake families it is the source of: the National
    Register, civil) and the social secretariats (DIMONA and DmfA). An actor that is several of these gets the
    union. Who may declare *what for whom* is judged at intake (streams.domain.senders); the ACLs only bound
    which topics an actor reaches."""
    services = [Principal(s.value, "service", service_grants(s, prefix, app_id)) for s in Service]
    grants: dict[str, set[Grant]] = {}
    roles: dict[str, str] = {}
    for actor in institutions:
        grants.setdefault(actor, set()).update(institution_grants(actor, prefix))
        roles[actor] = "institution"
    for actor, families in (authentic_sources or {}).items():
        grants.setdefault(actor, set()).update(declarer_grants(prefix, families))
        roles.setdefault(actor, "authentic source")
    for actor in secretariats:
        grants.setdefault(actor, set()).update(declarer_grants(prefix, SECRETARIAT_FAMILIES))
        roles.setdefault(actor, "secretariat")
    actors = [Principal(a, roles[a], tuple(sorted(grants[a]))) for a in sorted(grants)]
    return (*services, *actors)


def find(plan: Iterable[Principal], name: str) -> Principal | None:
    return next((p for p in plan if p.name == name), None)


def owned_by_deployment(grant: Grant, prefix: str, app_id: str) -> bool:
    """Whether a grant found on the broker belongs to this deployment (what `revoke` removes)."""
    if grant.resource is Resource.CLUSTER:
        return False
    # app id "x" owns "x" and "x-..." only: not the grants of another deployment whose app id merely starts with
    # it ("x2"), which a bare prefix match would revoke under that deployment's running workers
    return grant.name.startswith((f"{prefix}.", f"{app_id}-")) or grant.name == app_id

"""The access plan (streams.access): least privilege, as data."""

from __future__ import annotations

from streams.access import (
    SUPER_USERS,
    Grant,
    Operation,
    Pattern,
    Resource,
    Service,
    access_plan,
    find,
    owned_by_deployment,
)
from streams.domain.credentials import derived_password, derived_seal_key

A, B = "0206731645", "0915943977"
PLAN = access_plan("crossroads", "crossroads", [A, B])


def _can(name: str, operation: Operation, resource: Resource, target: str) -> bool:
    principal = find(PLAN, name)
    assert principal is not None
    for grant in principal.grants:
        if grant.resource is not resource or grant.operation is not operation:
            continue
        if grant.name == target or (grant.pattern is Pattern.PREFIXED and target.startswith(grant.name)):
            return True
    return False


def test_an_institution_reads_its_own_mailbox_only() -> None:
    assert _can(A, Operation.READ, Resource.TOPIC, f"crossroads.mailbox.{A}.v1")
    assert not _can(A, Operation.READ, Resource.TOPIC, f"crossroads.mailbox.{B}.v1")
    assert not _can(A, Operation.READ, Resource.TOPIC, "crossroads.mailbox.employers.v1")
    assert not _can(A, Operation.READ, Resource.TOPIC, "crossroads.facts.civil.v1")


def test_an_institution_writes_intake_and_nothing_else() -> None:
    for family in ("dimona", "dmfa", "civil", "integrations", "consultations"):
        assert _can(A, Operation.WRITE, Resource.TOPIC, f"crossroads.intake.{family}.v1")
    for topic in ("crossroads.facts.civil.v1", "crossroads.audit.exchanges.v1", "crossroads.directory.entries.v1"):
        assert not _can(A, Operation.WRITE, Resource.TOPIC, topic)


def test_an_institution_uses_consumer_groups_under_its_own_prefix() -> None:
    assert _can(A, Operation.READ, Resource.GROUP, f"crossroads.{A}.mailbox-reader")
    assert not _can(A, Operation.READ, Resource.GROUP, f"crossroads.{B}.mailbox-reader")
    assert not _can(A, Operation.READ, Resource.GROUP, "crossroads")  # the worker's group


def test_services_are_not_super_users_and_each_has_its_own_scope() -> None:
    names = {p.name for p in PLAN}
    assert not names & set(SUPER_USERS)
    assert {s.value for s in Service} <= names
    assert not _can("projector", Operation.WRITE, Resource.TOPIC, "crossroads.facts.civil.v1")
    assert _can("projector", Operation.READ, Resource.TOPIC, "crossroads.facts.civil.v1")
    assert not _can("projector", Operation.READ, Resource.TOPIC, f"crossroads.mailbox.{A}.v1")
    assert _can("outbound", Operation.READ, Resource.TOPIC, "crossroads.mailbox.employers.v1")
    assert not _can("outbound", Operation.WRITE, Resource.TOPIC, "crossroads.mailbox.employers.v1")
    assert not _can("inbound", Operation.READ, Resource.TOPIC, "crossroads.facts.dimona.v1")
    assert _can("worker", Operation.CREATE, Resource.TOPIC, "crossroads-directory-changelog")
    assert not _can("worker", Operation.CREATE, Resource.TOPIC, "crossroads.facts.dimona.v1")


def test_the_dmfa_step_is_the_workers_and_nobody_elses() -> None:
    # the worker's prefix-wide rights cover the DmfA step's topics (its input, its table's changelog)
    for topic in ("crossroads.dmfa.declarations.v1", "crossroads.dmfa.versions.v1"):
        assert _can("worker", Operation.READ, Resource.TOPIC, topic)
        assert _can("worker", Operation.WRITE, Resource.TOPIC, topic)
        assert not _can("worker", Operation.CREATE, Resource.TOPIC, topic)  # the catalog's, applied by the operator
        for other in ("projector", "inbound", "outbound", A):
            assert not _can(other, Operation.READ, Resource.TOPIC, topic), other
            assert not _can(other, Operation.WRITE, Resource.TOPIC, topic), other


def test_grants_are_scoped_to_one_deployment() -> None:
    other = access_plan("test1234", "crossroads-test-1234", [A])
    for principal in other:
        for grant in principal.grants:
            if grant.resource is not Resource.CLUSTER:
                assert owned_by_deployment(grant, "test1234", "crossroads-test-1234")
                assert not owned_by_deployment(grant, "crossroads", "crossroads-x")
    assert not owned_by_deployment(
        Grant(Resource.CLUSTER, Pattern.LITERAL, "kafka-cluster", Operation.IDEMPOTENT_WRITE), "test1234", "x"
    )


def test_credentials_are_derived_per_actor_and_per_use() -> None:
    assert derived_password("s", A) == derived_password("s", A)
    assert derived_password("s", A) != derived_password("s", B)
    assert derived_password("s", A) != derived_password("t", A)
    assert derived_seal_key("s", A).hex() != derived_password("s", A)


NR, SDWORX = "0367302178", "0448123469"
WITH_DECLARERS = access_plan("crossroads", "crossroads", [A], {NR: ["civil"]}, [SDWORX])


def test_the_authentic_source_writes_its_intake_and_a_secretariat_dimona_and_dmfa_reading_no_mailbox() -> None:
    nr, sd = find(WITH_DECLARERS, NR), find(WITH_DECLARERS, SDWORX)
    assert nr is not None and sd is not None
    writes = {p.name: {g.name for g in p.grants if g.operation is Operation.WRITE} for p in (nr, sd)}
    assert writes[NR] == {"crossroads.intake.civil.v1"}
    assert writes[SDWORX] == {"crossroads.intake.dimona.v1", "crossroads.intake.dmfa.v1"}
    for principal in (nr, sd):
        assert not any(g.operation is Operation.READ for g in principal.grants)


def test_the_deployment_plan_has_the_networks_authentic_source_and_secretariats() -> None:
    from streams.deployment import deployment_plan
    from streams.settings import Settings

    plan = deployment_plan(Settings())
    assert {p.role for p in plan} == {"service", "institution", "authentic source", "secretariat"}
    assert find(plan, NR) is not None and find(plan, SDWORX) is not None


def test_a_deployment_owns_its_app_ids_grants_and_not_those_of_an_app_id_that_merely_starts_like_it() -> None:
    from streams.access import Grant, Operation, Pattern, Resource, owned_by_deployment

    def group(name: str) -> Grant:
        return Grant(Resource.GROUP, Pattern.LITERAL, name, Operation.READ)

    assert owned_by_deployment(group("crossroads-test-1"), "test1", "crossroads-test-1")
    assert owned_by_deployment(group("crossroads-test-1-projector"), "test1", "crossroads-test-1")
    assert not owned_by_deployment(group("crossroads-test-12-projector"), "test1", "crossroads-test-1")
    assert not owned_by_deployment(group("crossroads-test-12"), "test1", "crossroads-test-1")

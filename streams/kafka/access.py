"""Applying the access plan (streams.access) to the broker: SCRAM users and ACLs, idempotently.

Runs as the operator (a super user). Kafka's errors are wrapped in KafkaAdapterError here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from streams.access import Grant, Operation, Pattern, Principal, Resource, owned_by_deployment
from streams.domain.credentials import derived_password
from streams.kafka import KafkaAdapterError
from streams.kafka.security import client_config
from streams.settings import Settings

TIMEOUT_S = 30.0
SCRAM_ITERATIONS = 8192

_RESOURCE = {
    Resource.TOPIC: ResourceType.TOPIC,
    Resource.GROUP: ResourceType.GROUP,
    Resource.TRANSACTIONAL_ID: ResourceType.TRANSACTIONAL_ID,
    Resource.CLUSTER: ResourceType.BROKER,  # librdkafka's name for the cluster resource
}
_PATTERN = {Pattern.LITERAL: ResourcePatternType.LITERAL, Pattern.PREFIXED: ResourcePatternType.PREFIXED}
_OPERATION = {
    Operation.READ: AclOperation.READ,
    Operation.WRITE: AclOperation.WRITE,
    Operation.CREATE: AclOperation.CREATE,
    Operation.DESCRIBE: AclOperation.DESCRIBE,
    Operation.DESCRIBE_CONFIGS: AclOperation.DESCRIBE_CONFIGS,
    Operation.IDEMPOTENT_WRITE: AclOperation.IDEMPOTENT_WRITE,
}


@dataclass(frozen=True)
class AccessChange:
    principal: str
    action: str  # credentials | granted | revoked
    detail: str = ""


def binding(principal: str, grant: Grant) -> AclBinding:
    return AclBinding(
        _RESOURCE[grant.resource],
        grant.name,
        _PATTERN[grant.pattern],
        f"User:{principal}",
        "*",
        _OPERATION[grant.operation],
        AclPermissionType.ALLOW,
    )


def _grant_of(found: AclBinding) -> tuple[str, Grant] | None:
    resources: dict[object, Resource] = {v: k for k, v in _RESOURCE.items()}
    patterns: dict[object, Pattern] = {v: k for k, v in _PATTERN.items()}
    operations: dict[object, Operation] = {v: k for k, v in _OPERATION.items()}
    try:
        grant = Grant(
            resources[found.restype],
            patterns[found.resource_pattern_type],
            found.name,
            operations[found.operation],
        )
    except KeyError:
        return None
    return found.principal.removeprefix("User:"), grant


class AccessAdmin:
    def __init__(self, settings: Settings, admin: AdminClient | None = None) -> None:
        self._settings = settings
        self._admin = admin or AdminClient(client_config(settings, log_level=3))

    def _secret(self) -> str:
        return self._settings.access_secret.get_secret_value()

    def apply(self, plan: Iterable[Principal]) -> list[AccessChange]:
        """Create or refresh every principal's SCRAM credentials, then its ACLs (creating an existing ACL is a
        no-op on the broker, so a second run changes nothing)."""
        plan = list(plan)
        upserts: list[UserScramCredentialAlteration] = [
            UserScramCredentialUpsertion(
                p.name,
                ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
                derived_password(self._secret(), p.name).encode(),
            )
            for p in plan
        ]
        changes: list[AccessChange] = []
        if upserts:
            for user, future in self._admin.alter_user_scram_credentials(upserts).items():
                _wait(future, f"set the SCRAM credentials of {user}")
                changes.append(AccessChange(user, "credentials", "SCRAM-SHA-512"))
        existing = set(self.grants())
        wanted = [(p.name, g) for p in plan for g in p.grants]
        missing = [(name, g) for name, g in wanted if (name, g) not in existing]
        if missing:
            futures = self._admin.create_acls([binding(name, g) for name, g in missing], request_timeout=TIMEOUT_S)
            for acl, future in futures.items():
                _wait(future, f"create {acl}")
            self._until_in_force(missing)
            changes += [AccessChange(name, "granted", g.describe()) for name, g in missing]
        return changes

    def _until_in_force(self, created: list[tuple[str, Grant]]) -> None:
        """Wait until the broker's authorizer holds every created ACL. CreateAcls returns once the controller
        committed them; the broker applies them when it replays the metadata log, a moment later (longer under
        load), and a client started in between is refused (GROUP_AUTHORIZATION_FAILED for a fresh projector).
        DescribeAcls is answered from the broker's own authorizer, so what it lists is in force there."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            pending = set(created) - set(self.grants())
            if not pending:
                return
            if time.monotonic() > deadline:
                name, grant = min(pending)
                raise KafkaAdapterError(
                    f"{len(pending)} ACL(s) not in force after {TIMEOUT_S:.0f} s, e.g. {name}: {grant.describe()}"
                )
            time.sleep(0.05)

    def grants(self, principal: str | None = None) -> list[tuple[str, Grant]]:
        """The ACLs on the broker (of one principal, or all), as grants."""
        wanted = AclBindingFilter(
            ResourceType.ANY,
            None,  # type: ignore[arg-type]  # None matches any: confluent-kafka's stubs say str
            ResourcePatternType.ANY,
            None if principal is None else f"User:{principal}",  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        found = _wait(self._admin.describe_acls(wanted, request_timeout=TIMEOUT_S), "describe the ACLs")
        return sorted(g for g in (_grant_of(b) for b in found) if g is not None)

    def revoke(self, prefix: str, app_id: str) -> list[AccessChange]:
        """Remove one deployment's ACLs (a test session's, a bench run's); users and shared grants stay."""
        doomed = [(name, g) for name, g in self.grants() if owned_by_deployment(g, prefix, app_id)]
        if not doomed:
            return []
        filters = [_filter(binding(name, g)) for name, g in doomed]
        for acl, future in self._admin.delete_acls(filters, request_timeout=TIMEOUT_S).items():
            _wait(future, f"delete {acl}")
        return [AccessChange(name, "revoked", g.describe()) for name, g in doomed]

    def forget(self, principals: Iterable[str]) -> None:
        """Delete SCRAM users (a test's throw-away principals)."""
        deletions: list[UserScramCredentialAlteration] = [
            UserScramCredentialDeletion(p, ScramMechanism.SCRAM_SHA_512) for p in principals
        ]
        if deletions:
            for user, future in self._admin.alter_user_scram_credentials(deletions).items():
                _wait(future, f"delete the SCRAM credentials of {user}", tolerate="RESOURCE_NOT_FOUND")


def _filter(acl: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(
        acl.restype,
        acl.name,
        acl.resource_pattern_type,
        acl.principal,
        acl.host,
        acl.operation,
        acl.permission_type,
    )


def _wait(future: Any, what: str, tolerate: str | None = None) -> Any:
    try:
        return future.result(timeout=TIMEOUT_S)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if tolerate and getattr(error, "name", lambda: "")() == tolerate:
            return None
        raise KafkaAdapterError(f"could not {what}: {exc}") from exc
    except Exception as exc:  # a timeout, or a client-side error
        raise KafkaAdapterError(f"could not {what}: {exc}") from exc

"""Route a decision's outcomes (`streams.domain.outcomes`): the one publishing step of the intake and the
directory.

What differs between the flows is given by the caller, not decided here: where audit entries go (the intake
hands them to the directory over the pending topic, the directory chains them itself), and whether the other
messages may leave at once (the intake) or wait until the audit records of their batch are durable (the
directory: the trail fails closed, nothing of a batch leaves before its audit records).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from faust.types import EventT

from streams.domain.outcomes import REJECTION, Forward, Outcome, ToAudit, ToDeadLetters, ToMailbox, ToRejections
from streams.kafka.sealing import Headers
from topologies.alignment import event_time_headers
from topologies.deps import Deps
from topologies.edges import mailbox_route, message_dead_letter
from topologies.meters import FlowMeter
from topologies.publisher import Publisher

Send = Callable[[str, bytes | None, bytes, Headers | None], Awaitable[None] | None]  # (topic, key, value, headers)
Audit = Callable[[bytes | None, dict[str, Any]], Awaitable[None] | None]  # (key, entry)


async def publish_outcomes(
    outcomes: Iterable[Outcome],
    *,
    event: EventT[bytes],
    key: bytes | None,
    deps: Deps,
    publisher: Publisher,
    meter: FlowMeter,
    audit: Audit,
    send: Send | None = None,
) -> None:
    """Publish each outcome where it goes, keyed by ``key`` (the decision's subject) unless it names its own.

    ``audit`` takes each audit entry; ``send`` every other message, encoded (None: the publisher, at once).
    """
    codec = deps.codec
    for outcome in outcomes:
        meter.outcome(outcome, event.message)
        if isinstance(outcome, ToAudit):
            if (pending := audit(key, outcome.record)) is not None:
                await pending
            continue
        if isinstance(outcome, Forward):
            topic, out_key, value = (
                deps.topic(outcome.area, outcome.name),
                outcome.key.encode() if outcome.key else key,
                outcome.value,
            )
        elif isinstance(outcome, ToMailbox):
            topic, out_key = mailbox_route(deps, outcome.actor, key)
            value = codec.encode(outcome.schema, outcome.record)
        elif isinstance(outcome, ToRejections):
            topic, out_key, value = deps.topic("outcomes", "rejections"), key, codec.encode(REJECTION, outcome.record)
        elif isinstance(outcome, ToDeadLetters):
            letter = message_dead_letter(event, reason=outcome.reason, error_type=outcome.error_type, at=deps.clock())
            topic, out_key = deps.topic("outcomes", "dead-letters"), event.key
            value = codec.encode(letter.schema, letter.value)
        else:  # pragma: no cover - the union is closed; mypy checks it
            raise TypeError(f"no route for {outcome!r}")
        # to another step: it carries the event time of what it derives from
        headers = event_time_headers(event.message) if isinstance(outcome, Forward) else None
        if send is None:
            await publisher.publish(topic, out_key, value, headers)
        elif (pending := send(topic, out_key, value, headers)) is not None:
            await pending

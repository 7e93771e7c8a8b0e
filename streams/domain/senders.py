"""Who may send what: the sender rules the intake applies once the producer of a record is proven.

The intake learns who produced a record from its seal (:mod:`streams.domain.seal`); these rules then judge the
declaration's envelope against that producer and the network's senders register (secretariats, mandates,
authentic sources: ``deploy/network/*/``):

* ``envelope.sender_not_authenticated``: nobody is proven (no seal, or a wrong one), or the envelope names
  another sender than the proven producer.  Nothing else is judged then: the other rules are about a sender,
  and this one is not known.
* ``envelope.not_authentic_source``: a declaration with an authentic source (civil events: the National
  Register) comes from anyone else.
* ``envelope.sender_not_mandated``: a DIMONA or DmfA comes from neither the employer it declares for nor a
  secretariat holding a mandate of that employer on ``on``, the day the platform receives it (a sender cannot
  backdate its envelope into a mandate that has ended).

Pure: the network and the day are given.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from streams.domain.errors import InvalidIdentifierError
from streams.domain.identifiers import EnterpriseNumber
from streams.domain.kinds import KINDS
from streams.domain.network import Network
from streams.domain.validation import Violation

__all__ = ["NOT_AUTHENTICATED", "NOT_AUTHENTIC_SOURCE", "NOT_MANDATED", "sender_violations"]

NOT_AUTHENTICATED = "envelope.sender_not_authenticated"
NOT_AUTHENTIC_SOURCE = "envelope.not_authentic_source"
NOT_MANDATED = "envelope.sender_not_mandated"


def _by_employer(schema_name: object) -> bool:
    """A declaration an employer makes about its own workers: by itself, or through a mandated secretariat."""
    kind = KINDS.get(schema_name) if isinstance(schema_name, str) else None
    return kind is not None and kind.by_employer


def _sender(record: Mapping[str, Any]) -> str | None:
    envelope = record.get("envelope")
    sender = envelope.get("sender") if isinstance(envelope, Mapping) else None
    return sender if isinstance(sender, str) else None


def sender_violations(
    schema_name: str, record: Mapping[str, Any], *, proven: str | None, network: Network, on: dt.date
) -> list[Violation]:
    """Every sender rule ``record`` breaks, given the producer its seal proves (None: nobody)."""
    sender = _sender(record)
    if proven is None:
        return [
            Violation(NOT_AUTHENTICATED, "envelope.sender", "the record carries no valid seal: its producer is unknown")
        ]
    if sender != proven:
        return [
            Violation(
                NOT_AUTHENTICATED,
                "envelope.sender",
                f"the envelope names sender {sender!r} but the record was produced by {proven}",
            )
        ]
    violations = []
    source = network.authentic_source(schema_name)
    if source is not None and proven != source.enterprise_number:
        violations.append(
            Violation(
                NOT_AUTHENTIC_SOURCE,
                "envelope.sender",
                f"{schema_name} is accepted only from its authentic source, {source.name} "
                f"({source.enterprise_number}), not from {proven}",
            )
        )
    for field, employer in _employers(schema_name, record):
        if employer != proven and network.mandate(proven, employer, on) is None:
            violations.append(
                Violation(
                    NOT_MANDATED,
                    field,
                    f"{proven} is not employer {employer} and holds no mandate of it on {on.isoformat()}",
                )
            )
    return violations


def _employers(schema_name: str, record: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, employer's 10 digits) of each employer the declaration is made for.  An employer number that
    is no enterprise number is left out: the content rules refuse it already (``enterprise.*``), and no
    mandate can name it."""
    kind = KINDS.get(schema_name)
    if kind is not None and kind.batch:
        for index, item in enumerate(record.get("declarations") or ()):
            if isinstance(item, tuple | list) and len(item) == 2 and _by_employer(item[0]):
                digits = _digits(item[1].get("employer") if isinstance(item[1], Mapping) else None)
                if digits is not None:
                    yield f"declarations[{index}].employer", digits
    elif _by_employer(schema_name):
        digits = _digits(record.get("employer"))
        if digits is not None:
            yield "employer", digits


def _digits(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return EnterpriseNumber.parse(value).digits
    except InvalidIdentifierError:
        return None

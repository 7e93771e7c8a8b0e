"""The workload's phases and the fault schedule. Pure: no Kafka.

Phases. Tickets, notification tickets and audit ids are derived from intake positions, so the same records
produced in the same order into fresh topics yield the same ids -- as long as every decision depends only on
what came before it *on the same partition*. The directory reads several topics side by side
(directory.declarations: integrations and DIMONA; directory.lookups, consultations.accepted), so a decision that
reads what another topic's records wrote would depend on timing. What reads what (streams/domain/exchange.py,
fanout.py, consult.py):

* an integration changes the person's directory entries; it reads only entries (overlap rules), written by
  earlier integrations of the same person: same topic, same key, same partition;
* a DIMONA changes the worker's relations (read only by DIMONA of the same worker, same partition) and is
  fanned out to the holders of the worker's entries (written by integrations);
* a DmfA is decided first by the DmfA step (dmfa.declarations, keyed by employer), against the same employer's
  earlier DmfA only: same topic, same key, same partition;
* a civil fact or a DmfA line is routed (directory.lookups) to each person concerned, fanned out to the holders
  of their entries, and kept in their file as a fact (read by nothing but consultations); a DmfA line also reads
  the worker's relations (its dmfa.worker_without_dimona warning), written by DIMONA;
* a consultation reads entries, relations and kept facts.

So the workload goes in four phases, the worker drained between them: (1) every integration (the population's
files, then the day's: newborns' files, job-seeker files closed or opened), (2) every DIMONA (the population's
current jobs, then the day's IN/OUT/UPDATE/CANCEL), (3) civil facts and DmfA (relations complete since (2)),
(4) consultations. Within a phase no decision reads what another topic of the same phase writes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import NamedTuple, TypeVar

from streams.synthetic import Generated

PHASES = ("integrations", "dimona", "civil+dmfa", "consultations")
PHASE_OF_FAMILY = {"integrations": 0, "dimona": 1, "civil": 2, "dmfa": 2, "consultations": 3}

T = TypeVar("T")


def split_phases(records: Iterable[Generated]) -> list[list[Generated]]:
    """The records by phase (PHASES), each phase in the order the records came (a CANCEL after its IN)."""
    phases: list[list[Generated]] = [[] for _ in PHASES]
    for item in records:
        phases[PHASE_OF_FAMILY[item.family]].append(item)
    return phases


class Trigger(NamedTuple):
    """Inject a fault once `fraction` of phase `phase`'s expected progress (as the baseline measured it) is
    reached."""

    phase: int
    fraction: float


def allocate(count: int, weights: Sequence[float], at_least_one: bool = True) -> list[int]:
    """`count` split over the phases in proportion to `weights` (largest remainder); with `at_least_one`, every
    phase of non-zero weight gets one first while there are enough."""
    n = len(weights)
    result = [0] * n
    eligible = [i for i in range(n) if weights[i] > 0]
    if not eligible or count <= 0:
        return result
    left = count
    if at_least_one and count >= len(eligible):
        for i in eligible:
            result[i] = 1
        left -= len(eligible)
    total = sum(weights[i] for i in eligible)
    shares = {i: left * weights[i] / total for i in eligible}
    for i in eligible:
        result[i] += int(shares[i])
    remainder = count - sum(result)
    for i in sorted(eligible, key=lambda i: (shares[i] - int(shares[i]), weights[i]), reverse=True)[:remainder]:
        result[i] += 1
    return result


def schedule(
    rng: random.Random,
    count: int,
    weights: Sequence[float],
    *,
    low: float = 0.05,
    high: float = 0.9,
    phases: Sequence[int] | None = None,
) -> list[Trigger]:
    """`count` triggers at seeded random points of the workload, spread over the phases by `weights` (the
    baseline's progress per phase), each at a fraction in [low, high) of its phase; sorted. `phases` restricts
    them to some phases."""
    usable = [w if phases is None or i in phases else 0.0 for i, w in enumerate(weights)]
    per_phase = allocate(count, usable)
    triggers = [Trigger(phase, round(rng.uniform(low, high), 3)) for phase, n in enumerate(per_phase) for _ in range(n)]
    return sorted(triggers)


def due(trigger: Trigger, phase: int, fraction: float, progress_since_last_fault: float, min_step: float) -> bool:
    """Whether to inject now: the trigger's phase is running, its fraction is reached, and the platform made
    `min_step` of progress since the previous fault (so a restarted process works before it is hit again)."""
    return trigger.phase == phase and fraction >= trigger.fraction and progress_since_last_fault >= min_step


def interleave(rng: random.Random, first: Sequence[T], second: Sequence[T]) -> list[T]:
    """A seeded random merge of two sequences, each keeping its own order."""
    slots = [0] * len(first) + [1] * len(second)
    rng.shuffle(slots)
    iterators = (iter(first), iter(second))
    return [next(iterators[slot]) for slot in slots]

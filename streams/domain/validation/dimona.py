"""Intake rules of the DIMONA declarations (seed 4.13).  Whether an OUT closes a relation that exists is the
directory's decision (``dimona.out_without_in``), not intake's."""

from __future__ import annotations

from collections.abc import Callable

from streams.domain.validation.checker import Checker, Record, check_envelope, join
from streams.domain.validation.violation import Violation

DIMONA_IN = "be.crossroads.dimona.DimonaIn"
DIMONA_OUT = "be.crossroads.dimona.DimonaOut"
DIMONA_UPDATE = "be.crossroads.dimona.DimonaUpdate"
DIMONA_CANCEL = "be.crossroads.dimona.DimonaCancel"
DIMONA_BATCH = "be.crossroads.dimona.DimonaBatch"

MAX_BATCH = 20  # seed 4.13: "jusqu'à 20 déclarations à la fois"
MAX_STUDENT_HOURS = 650  # the yearly student quota, in hours


def _relation(c: Checker, record: Record, prefix: str) -> None:
    check_envelope(c, record["envelope"], join(prefix, "envelope"))
    c.enterprise(join(prefix, "employer"), record["employer"])
    c.niss(join(prefix, "worker"), record["worker"])


def _in(c: Checker, record: Record, prefix: str) -> None:
    _relation(c, record, prefix)
    start = c.date(join(prefix, "start_date"), record["start_date"])
    end = c.date(join(prefix, "planned_end_date"), record["planned_end_date"])
    c.period(join(prefix, "planned_end_date"), start, end, code="dimona.planned_end_before_start")
    c.joint_committee(join(prefix, "joint_committee"), record["joint_committee"])
    student = record["worker_type"] == "STU"
    hours = record["planned_hours"]
    if student:
        if record["planned_end_date"] is None:
            c.add(
                "dimona.student_end_required",
                join(prefix, "planned_end_date"),
                "a student contract must give its planned end date",
            )
        if hours is None or not 1 <= hours <= MAX_STUDENT_HOURS:
            c.add(
                "dimona.planned_hours",
                join(prefix, "planned_hours"),
                f"a student contract must plan 1 to {MAX_STUDENT_HOURS} hours, got {hours}",
            )
    elif hours is not None:
        c.add(
            "dimona.planned_hours_not_student",
            join(prefix, "planned_hours"),
            f"planned hours are only declared for students (worker type {record['worker_type']})",
        )


def _out(c: Checker, record: Record, prefix: str) -> None:
    _relation(c, record, prefix)
    start = c.date(join(prefix, "relation_start_date"), record["relation_start_date"])
    end = c.date(join(prefix, "end_date"), record["end_date"])
    c.period(join(prefix, "end_date"), start, end, code="dimona.end_before_start")


def _update(c: Checker, record: Record, prefix: str) -> None:
    _relation(c, record, prefix)
    start = c.date(join(prefix, "relation_start_date"), record["relation_start_date"])
    new_start = c.date(join(prefix, "new_start_date"), record["new_start_date"])
    new_end = c.date(join(prefix, "new_end_date"), record["new_end_date"])
    changes = ("new_start_date", "new_end_date", "new_joint_committee", "new_worker_type")
    if all(record[name] is None for name in changes):
        c.add("dimona.update_empty", prefix, "an update must change at least one of " + ", ".join(changes))
    c.period(join(prefix, "new_end_date"), new_start or start, new_end, code="dimona.update_end_before_start")
    c.joint_committee(join(prefix, "new_joint_committee"), record["new_joint_committee"])


def _cancel(c: Checker, record: Record, prefix: str) -> None:
    _relation(c, record, prefix)
    c.date(join(prefix, "relation_start_date"), record["relation_start_date"])
    c.uuid(join(prefix, "cancelled_ticket"), record["cancelled_ticket"])


_ITEMS: dict[str, Callable[[Checker, Record, str], None]] = {
    DIMONA_IN: _in,
    DIMONA_OUT: _out,
    DIMONA_UPDATE: _update,
    DIMONA_CANCEL: _cancel,
}


def _batch(c: Checker, record: Record, prefix: str) -> None:
    envelope = record["envelope"]
    check_envelope(c, envelope, join(prefix, "envelope"))
    items = record["declarations"]
    if not 1 <= len(items) <= MAX_BATCH:
        c.add(
            "dimona.batch_size",
            join(prefix, "declarations"),
            f"a batch holds 1 to {MAX_BATCH} declarations, not {len(items)}",
        )
    for index, item in enumerate(items):
        # A multi-record union decodes as (full name, record); see streams.codecs.
        name, body = item
        item_prefix = f"{join(prefix, 'declarations')}[{index}]"
        _ITEMS[name](c, body, item_prefix)
        item_envelope = body["envelope"]
        if (item_envelope["sender"], item_envelope["environment"]) != (envelope["sender"], envelope["environment"]):
            c.add(
                "dimona.batch_sender",
                join(item_prefix, "envelope"),
                "every item must have the batch's sender and environment",
            )


def _run(rule: Callable[[Checker, Record, str], None]) -> Callable[[Record], list[Violation]]:
    def validate(record: Record) -> list[Violation]:
        c = Checker()
        rule(c, record, "")
        return c.violations

    validate.__doc__ = f"All intake violations of one record ({rule.__name__.strip('_')})."
    return validate


validate_dimona_in = _run(_in)
validate_dimona_out = _run(_out)
validate_dimona_update = _run(_update)
validate_dimona_cancel = _run(_cancel)
validate_dimona_batch = _run(_batch)

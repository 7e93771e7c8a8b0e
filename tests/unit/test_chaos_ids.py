"""The chaos suite's comparison (bench/chaos/ids.py): canonical ids across topic prefixes, lost and duplicated
ids, a second ticket for the same thing, ids not derived as documented, collisions, outcomes that changed."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from chaos.ids import (
    Ack,
    Audit,
    Fact,
    Notification,
    Outputs,
    Reply,
    Sent,
    canonical,
    compare,
    references_by_ticket,
)

from streams.domain.admission import intake_ticket
from streams.domain.audit import AuditKind, audit_id
from streams.domain.consult import reply_ticket
from streams.domain.fanout import notification_ticket
from streams.domain.kinds import dmfa_line_ticket, dmfa_withdrawal_ticket

MUTUALITY, FUND = "0206731645", "0432104019"
PERSON, COLLEAGUE = "85010112345", "90020254321"


def world(prefix: str, offset_shift: int = 0) -> tuple[list[Sent], Outputs]:
    """What a clean run under `prefix` writes for a DIMONA (two recipients), a DmfA about two workers (one
    recipient) and a consultation: every id derived as the platform derives it."""
    dimona = Sent("REF-DIM", f"{prefix}.intake.dimona.v1", 2, 10 + offset_shift)
    dmfa = Sent("REF-DMFA", f"{prefix}.intake.dmfa.v1", 0, 3 + offset_shift)
    question = Sent("REF-Q", f"{prefix}.intake.consultations.v1", 5, 0 + offset_shift)
    out = Outputs()
    out.acks += [Ack("REF-DIM", dimona.ticket, "ACCEPTED"), Ack("REF-DMFA", dmfa.ticket, "ACCEPTED")]
    keys = (f"{PERSON}/WHITE_COLLAR/200", f"{COLLEAGUE}/WHITE_COLLAR/200")
    out.facts += [
        Fact("dimona", dimona.ticket, "REF-DIM", 0),
        Fact("dmfa", dmfa.ticket, "REF-DMFA", 2, "0403170701/2026-Q1", 1, keys),
    ]
    for recipient in (MUTUALITY, FUND):
        ticket = notification_ticket(dimona.ticket, recipient)
        out.notifications.append(Notification(ticket, dimona.ticket, recipient, PERSON))
        out.audits.append(
            Audit(audit_id(ticket, recipient, AuditKind.DELIVERY), ticket, dimona.ticket, recipient, "DELIVERY", PERSON)
        )
    for worker in (PERSON, COLLEAGUE):  # one DmfA split per worker line, each line under a ticket of its own
        line = dmfa_line_ticket(
            dmfa.ticket, {"worker": worker, "worker_category": "WHITE_COLLAR", "joint_committee": "200"}
        )
        ticket = notification_ticket(line, MUTUALITY)
        out.notifications.append(Notification(ticket, line, MUTUALITY, worker))
        out.audits.append(
            Audit(audit_id(ticket, MUTUALITY, AuditKind.DELIVERY), ticket, line, MUTUALITY, "DELIVERY", worker)
        )
    reply = reply_ticket(question.ticket)
    out.replies.append(Reply(reply, question.ticket, "GRANTED"))
    out.audits.append(
        Audit(
            audit_id(reply, MUTUALITY, AuditKind.CONSULTATION_GRANTED),
            reply,
            question.ticket,
            MUTUALITY,
            "CONSULTATION_GRANTED",
            PERSON,
        )
    )
    return [dimona, dmfa, question], out


def canon(sent: list[Sent], out: Outputs):  # type: ignore[no-untyped-def]
    return canonical(out, references_by_ticket(sent))


def test_a_sent_record_is_ticketed_from_its_intake_position() -> None:
    sent = Sent("R", "p.intake.civil.v1", 3, 7)
    assert sent.ticket == str(intake_ticket("p.intake.civil.v1", 3, 7))


def test_the_same_workload_under_another_prefix_and_other_offsets_compares_equal() -> None:
    baseline = canon(*world("chaosbase"))
    run = canon(*world("chaosrun", offset_shift=40))
    result = compare(baseline, run)
    assert result.lost == 0
    assert result.duplicates == 0
    assert result.duplicates_with_new_ticket == 0
    assert result.underived == 0
    assert all(k.unexpected == 0 for k in result.kinds.values())
    assert result.kinds["notifications"].expected == 4  # the DmfA's two persons are two notifications


def test_a_missing_notification_and_its_audit_record_are_lost() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    out.notifications = [n for n in out.notifications if n.recipient != FUND]
    out.audits = [a for a in out.audits if a.actor != FUND]
    result = compare(baseline, canon(sent, out))
    assert result.kinds["notifications"].lost == 1
    assert result.kinds["audit"].lost == 1
    assert result.lost == 2
    assert result.kinds["notifications"].lost_examples == (f"REF-DIM/{FUND}/{PERSON}",)


def test_a_redelivery_with_the_same_ticket_is_a_duplicate_not_a_new_ticket() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    out.notifications.append(out.notifications[0])
    out.acks.append(out.acks[0])
    out.audits.append(out.audits[0])
    result = compare(baseline, canon(sent, out))
    assert result.duplicates == 3
    assert result.duplicates_with_new_ticket == 0
    assert result.lost == 0


def test_an_acknowledgement_under_a_second_ticket_is_a_new_ticket_and_not_derived() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    out.acks.append(Ack("REF-DIM", "00000000-0000-5000-8000-000000000000", "ACCEPTED"))
    run = canon(sent, out)
    result = compare(baseline, run)
    assert result.duplicates_with_new_ticket == 1
    assert run.new_tickets["acknowledgements"] == 1
    assert result.underived == 1


def test_a_notification_or_audit_record_under_another_id_is_a_new_ticket() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    first = out.notifications[0]
    out.notifications.append(first._replace(ticket="11111111-1111-5111-8111-111111111111"))
    audit = out.audits[0]
    out.audits.append(audit._replace(audit_id="22222222-2222-5222-8222-222222222222"))
    run = canon(sent, out)
    assert run.new_tickets["notifications"] == 1
    assert run.new_tickets["audit"] == 1
    assert compare(baseline, run).underived == 2


def test_one_ticket_for_several_persons_is_a_collision_not_a_duplicate() -> None:
    assert canon(*world("a")).collisions == {}  # each DmfA line is delivered under a ticket of its own
    sent, out = world("a")
    # what a DmfA's two workers got before (D2): the declaration's ticket for both lines
    dmfa = sent[1].ticket
    for worker in (PERSON, COLLEAGUE):
        ticket = notification_ticket(dmfa, FUND)
        out.notifications.append(Notification(ticket, dmfa, FUND, worker))
        out.audits.append(Audit(audit_id(ticket, FUND, AuditKind.DELIVERY), ticket, dmfa, FUND, "DELIVERY", worker))

    run = canon(sent, out)

    assert run.collisions == {"notification_ticket": 1, "audit_id": 1}
    assert run.duplicates("notifications") == 0


def test_an_outcome_that_changed_or_doubled_is_reported() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    out.acks.append(Ack("REF-DIM", out.acks[0].ticket, "REJECTED"))
    result = compare(baseline, canon(sent, out))
    assert result.status_conflicts["acknowledgements"] == 1
    assert result.status_changed["acknowledgements"] == 1
    assert result.lost == 0


def test_outputs_of_references_left_out_are_not_compared() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    extra = Sent("fuzz:7", "b.intake.civil.v1", 1, 99)
    out.acks.append(Ack("FUZZ-7-x", extra.ticket, "REJECTED"))
    run = canonical(out, references_by_ticket([*sent, extra]), keep=lambda r: not r.startswith("fuzz:"))
    result = compare(baseline, run)
    assert result.kinds["acknowledgements"].unexpected == 0
    assert result.kinds["acknowledgements"].read == 2


def test_an_output_of_an_unknown_ticket_is_unexpected() -> None:
    baseline = canon(*world("a"))
    sent, out = world("b")
    stray = "33333333-3333-5333-8333-333333333333"
    out.notifications.append(Notification(notification_ticket(stray, MUTUALITY), stray, MUTUALITY, PERSON))
    result = compare(baseline, canon(sent, out))
    assert result.kinds["notifications"].unexpected == 1
    assert result.kinds["notifications"].unexpected_examples[0].startswith("?" + stray)


def test_the_comparison_serialises_to_plain_json_types() -> None:
    import json

    result = compare(canon(*world("a")), canon(*world("b")))
    document = result.as_dict()
    assert json.loads(json.dumps(document)) == document
    assert set(document["per_kind"]) == {"acknowledgements", "notifications", "replies", "audit", "rejections", "facts"}


def test_dmfa_lines_and_withdrawals_are_named_by_their_declaration_and_warnings_are_their_own_acknowledgement() -> None:
    def run(prefix: str) -> tuple[list[Sent], Outputs]:
        sent, out = world(prefix)
        correction = Sent("REF-DMFA-2", f"{prefix}.intake.dmfa.v1", 0, 9)
        out.facts.append(
            Fact("dmfa", correction.ticket, "REF-DMFA-2", 1, "0403170701/2026-Q1", 2, (f"{PERSON}/WHITE_COLLAR/200",))
        )
        withdrawal = dmfa_withdrawal_ticket(correction.ticket, COLLEAGUE)
        out.notifications.append(
            Notification(notification_ticket(withdrawal, MUTUALITY), withdrawal, MUTUALITY, COLLEAGUE)
        )
        out.acks.append(Ack("REF-DMFA-2", correction.ticket, "ACCEPTED"))
        out.acks.append(Ack("REF-DMFA-2", correction.ticket, "ACCEPTED", ("worker_lines[0].worker",)))
        return [*sent, correction], out

    baseline, later = canon(*run("a")), canon(*run("b"))

    result = compare(baseline, later)
    assert result.lost == 0 and result.duplicates == 0 and result.underived == 0
    assert all(k.unexpected == 0 for k in result.kinds.values())
    assert (f"REF-DMFA-2|{COLLEAGUE}/withdrawn", MUTUALITY, COLLEAGUE) in baseline.ids["notifications"]
    assert ("REF-DMFA-2", "warning worker_lines[0].worker") in baseline.ids["acknowledgements"]

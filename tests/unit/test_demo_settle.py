"""What the demo decides on once the platform has drained: has its reader read everything, has every
declaration an outcome; and which topics it creates."""

from __future__ import annotations

from streams.catalog import CATALOG
from streams.demo.run import (
    EXAMPLES,
    OutcomesMissing,
    Seen,
    Sent,
    partitions_behind,
    settled,
    without_outcome,
)
from streams.settings import Settings
from streams.topics import needed_topics

MAILBOX = "t.mailbox.0206731645.v1"
AUDIT = "t.audit.exchanges.v1"


def test_a_reader_at_the_end_of_every_partition_is_not_behind() -> None:
    ends = {(MAILBOX, 0): (0, 5), (MAILBOX, 1): (3, 3), (AUDIT, 0): (10, 12)}
    assert partitions_behind(ends, {(MAILBOX, 0): 5, (MAILBOX, 1): 3, (AUDIT, 0): 12}) == []


def test_a_reader_short_of_an_end_or_not_assigned_yet_is_behind() -> None:
    ends = {(MAILBOX, 0): (0, 5), (MAILBOX, 1): (0, 2), (AUDIT, 0): (0, 1)}
    assert partitions_behind(ends, {(MAILBOX, 0): 4, (MAILBOX, 1): 2}) == [(AUDIT, 0), (MAILBOX, 0)]


def test_an_empty_partition_is_never_behind_even_unassigned() -> None:
    assert partitions_behind({(MAILBOX, 3): (7, 7)}, {}) == []


def test_a_reader_positioned_before_what_retention_deleted_is_behind_only_if_records_remain() -> None:
    # assigned from the beginning (offset 0) of a partition whose first records were deleted
    assert partitions_behind({(AUDIT, 0): (40, 40)}, {(AUDIT, 0): 0}) == []
    assert partitions_behind({(AUDIT, 0): (40, 45)}, {(AUDIT, 0): 0}) == [(AUDIT, 0)]


def ack(reference: str, status: str = "ACCEPTED") -> Seen:
    return Seen(MAILBOX, "Acknowledgement", {"sender_reference": reference, "status": status}, 2_000_000)


def reply(requester: str, person: str, data_type: str, ticket: str) -> Seen:
    record = {"requester": requester, "person": person, "data_type": data_type, "request_ticket": ticket}
    return Seen(MAILBOX, "ConsultationReply", record, 2_000_000)


def dead_letter(at_ms: int) -> Seen:
    return Seen("t.outcomes.dead-letters.v1", "DeadLetter", {}, at_ms)


def sent(*references: str) -> Sent:
    result = Sent(began=1000.0)
    for i, reference in enumerate(references):
        kind = "ConsultationRequest" if reference.startswith("c") else "DimonaIn"
        result.references[reference] = (kind, 1000.0 + i)
    return result


def test_acknowledgements_replies_and_dead_letters_settle_declarations() -> None:
    ours = sent("d1", "d2", "c1", "d3")
    ours.consultations[("0206731645", "85073003328", "ADDRESS")] = ["c1"]
    seen = [
        ack("d1"),
        ack("d2", "REJECTED"),
        ack("someone-else"),
        reply("0206731645", "85073003328", "ADDRESS", "ticket-c1"),
        dead_letter(1_000_500),
        dead_letter(999_000),  # before the demo began: not ours
    ]
    assert settled(ours, seen) == ({"d1", "d2", "c1"}, 1)
    assert without_outcome(ours, seen) == (0, [])


def test_declarations_without_outcome_are_counted_and_named_in_sending_order() -> None:
    ours = sent(*(f"d{i}" for i in range(10)))
    missing, examples = without_outcome(ours, [ack("d0"), ack("d4")])
    assert missing == 8
    assert examples == ["DimonaIn d1", "DimonaIn d2", "DimonaIn d3", "DimonaIn d5", "DimonaIn d6"]
    assert len(examples) == EXAMPLES


def test_a_dead_letter_cannot_name_its_declaration_but_counts_for_one() -> None:
    ours = sent("d1", "d2", "d3")
    missing, examples = without_outcome(ours, [ack("d1"), dead_letter(1_000_001)])
    assert missing == 1
    assert examples == ["DimonaIn d2", "DimonaIn d3"]  # either one may be the dead-lettered one


def test_the_failure_says_how_many_and_shows_examples() -> None:
    error = OutcomesMissing(19_995, 20_000, ["DimonaIn demo-1", "Integration demo-2"])
    assert "19,995 of 20,000 declarations have no outcome" in str(error)
    assert "DimonaIn demo-1, Integration demo-2" in str(error)


def test_the_demo_and_topics_apply_need_the_catalog_and_every_institutions_mailbox() -> None:
    settings = Settings()
    topics = {spec.topic(settings.topic_prefix) for spec in needed_topics(settings)}
    assert {spec.topic(settings.topic_prefix) for spec in CATALOG} <= topics
    assert "crossroads.mailbox.0213303790.v1" in topics  # the mailbox the demo's worker crashed on
    assert f"{settings.topic_prefix}.audit.exchanges.v1" in topics


def test_a_dmfa_counts_once_with_its_warning_and_its_lines_are_its_notifications() -> None:
    from types import SimpleNamespace

    from streams.demo.figures import outcome_figures

    institution = SimpleNamespace(enterprise_number="0206731645", sector="MUTUALITY")
    population = SimpleNamespace(network=SimpleNamespace(institutions={"m": institution}))
    accepted = {"sender_reference": "d1", "status": "ACCEPTED", "ticket": "T", "violations": [], "warnings": []}
    warned = {**accepted, "warnings": [{"code": "dmfa.worker_without_dimona", "field": "", "message": ""}]}
    lines = [
        Seen(MAILBOX, "Notification", {"source_ticket": f"line-{n}", "recipient": "0206731645"}, 2_000_000, "T")
        for n in (1, 2)
    ]
    seen = [Seen(MAILBOX, "Acknowledgement", accepted, 2_000_000), Seen(MAILBOX, "Acknowledgement", warned, 2_000_100)]

    figures = outcome_figures(population, sent("d1"), [*seen, *lines])  # type: ignore[arg-type]

    assert figures["outcomes"]["accepted"] == 1 and figures["outcomes"]["without_outcome"] == 0
    assert figures["notifications"] == {"total": 2, "by_sector": {"MUTUALITY": 2}}

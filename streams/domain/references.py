"""Sender references: the same reference sent twice is refused (``envelope.duplicate_reference``), not processed
twice.

A sender names each declaration with its own reference (``envelope.sender_reference``) and finds it again in its
acknowledgement. A sender that did not get its acknowledgement (a timeout, a crashed client, a file dropped twice)
sends again; the platform tickets by intake position, so without this rule the resend would be a second
declaration: a second fact, a second round of notifications. The intake keeps, per subject, the references it
admitted in the last ``window`` (Settings ``duplicate_reference_days``) and refuses a declaration whose sender
and reference it already admitted, naming the first ticket.

What is remembered is the *subject's*: the intake topics are keyed by the subject (the NISS, the employer for
DmfA), so a resend -- the same declaration, the same key -- is handled on the partition that remembers the first
sending. A reference reused for another subject's declaration is not a resend and is not refused. Only admitted
declarations are remembered: a refused declaration was processed for nothing and may be sent again, corrected,
under its reference.

Pure: the intake's table holds a `SentReferences` per subject (`topologies.intake`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.domain.validation import Violation

DUPLICATE_REFERENCE = "envelope.duplicate_reference"


@dataclass(frozen=True, slots=True)
class Sent:
    """One admitted declaration's sender, reference, ticket and the time the intake received it."""

    sender: str
    reference: str
    ticket: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SentReferences:
    """What one subject's intake remembers: the references admitted in the window, oldest first."""

    subject: str
    sent: tuple[Sent, ...] = ()

    def first_sending(self, sender: str, reference: str, ticket: str, now: datetime, window: timedelta) -> Sent | None:
        """The earlier admitted declaration with this sender and reference, if it is in the window.

        The same ticket is not an earlier sending but the same message handled again (a replay after a crash):
        it is decided again as the first time."""
        since = now - window
        for sent in self.sent:
            if sent.sender == sender and sent.reference == reference and sent.ticket != ticket and sent.at >= since:
                return sent
        return None

    def remembered(self, sent: Sent, window: timedelta) -> SentReferences:
        """With ``sent`` added (once), and without what left the window: a subject's value stays small."""
        since = sent.at - window
        kept = tuple(s for s in self.sent if s.at >= since and s.ticket != sent.ticket)
        return SentReferences(self.subject, (*kept, sent))


def duplicate_reference(first: Sent) -> Violation:
    """The violation that refuses a resend: it names the first sending's ticket, so the sender finds its answer."""
    return Violation(
        DUPLICATE_REFERENCE,
        "envelope.sender_reference",
        f"{first.reference!r} was already sent by {first.sender} and admitted on {first.at.isoformat()} "
        f"as ticket {first.ticket}: a resend is not processed twice",
    )

"""The intake's references table values: a `SentReferences` as the Avro record
``be.crossroads.internal.SentReferences``.

Avro, like the DmfA step's state: a value is small (the references one subject's declarations carried within the
window) and a changelog kept across releases needs schema evolution.
"""

from __future__ import annotations

from streams.codecs.codec import AvroCodec
from streams.domain.references import Sent, SentReferences

SENT_REFERENCES = "be.crossroads.internal.SentReferences"


def encode_references(codec: AvroCodec, state: SentReferences) -> bytes:
    sent = [{"sender": s.sender, "reference": s.reference, "ticket": s.ticket, "at": s.at} for s in state.sent]
    return codec.encode(SENT_REFERENCES, {"subject": state.subject, "sent": sent})


def decode_references(codec: AvroCodec, subject: str, data: bytes | None) -> SentReferences:
    """A table value back to its state; no value is a key nothing was admitted for yet (in the window)."""
    if not data:
        return SentReferences(subject)
    record = codec.decode_as(SENT_REFERENCES, data)
    return SentReferences(
        record["subject"],
        tuple(Sent(s["sender"], s["reference"], s["ticket"], s["at"]) for s in record["sent"]),
    )

"""Intake rules of consultation requests.  Whether the requester holds a file on the person and is authorized
for the data type is decided by the consultation step against the directory and the authorization matrix."""

from __future__ import annotations

from streams.domain.validation.checker import Checker, Record, check_envelope
from streams.domain.validation.violation import Violation

CONSULTATION_REQUEST = "be.crossroads.consultation.ConsultationRequest"


def validate_consultation_request(record: Record) -> list[Violation]:
    """All intake violations of a consultation request."""
    c = Checker()
    check_envelope(c, record["envelope"])
    c.enterprise("requester", record["requester"])
    if record["requester"] != record["envelope"]["sender"]:
        c.add("consultation.requester_not_sender", "requester", "an institution can only consult for itself")
    c.niss("person", record["person"])
    if not record["data_type"].startswith("be.crossroads."):
        c.add("consultation.data_type", "data_type", f"{record['data_type']!r} is not a be.crossroads.* schema name")
    c.text("capacity", record["capacity"])
    c.date("as_of", record["as_of"])
    return c.violations

"""The catalogue of validation rules: every code the platform emits, who decides it, and what it means.

It is the single source of the codes: a `Violation` (and a directory `Refusal`) can only be made with a code
listed here (`rule()` raises `UnknownRuleError` otherwise), and a unit test checks that every code listed is
emitted somewhere — so the catalogue, docs/contracts.md and the code cannot drift apart.

``scope`` is ``"intake"`` for *stateless* rules: they look at one record and nothing else, so the intake applies
them before anything is shared and ``crossroads check file`` applies exactly the same ones on the provider's
side.  ``scope`` is ``"state"`` for rules that need what the platform already knows (the reference directory,
earlier declarations, the senders register and the record's seal): decided by the stateful steps (the intake's
sender rules and sender references, the directory, DmfA versioning), never by ``check file``.  ``scope`` is
``"file"`` for the file-drop protocol's formal rules, judged by the inbound connector for a whole file or one of
its records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.domain.errors import DomainError

Scope = Literal["intake", "state", "file"]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    scope: Scope
    summary: str


_INTAKE: tuple[tuple[str, str], ...] = (
    # identifiers (a person number in a record is a NISS in the broad sense: National Register or BIS)
    ("niss.characters", "a NISS contains something else than digits and the usual punctuation"),
    ("niss.length", "a NISS does not have 11 digits"),
    ("niss.check_digits", "a NISS's check digits do not match (neither the 19xx nor the 20xx rule)"),
    ("niss.birth_date", "a NISS encodes an impossible birth date (month > 12, day beyond the month)"),
    ("bis.characters", "a BIS number contains something else than digits and punctuation (check bis only)"),
    ("bis.length", "a BIS number does not have 11 digits (check bis only)"),
    ("bis.check_digits", "a BIS number's check digits do not match (check bis only)"),
    ("bis.birth_date", "a BIS number encodes an impossible birth date (check bis only)"),
    ("bis.month_range", "a BIS number's month is not in 20..32 or 40..52 (check bis only)"),
    ("enterprise.characters", "an enterprise number contains something else than digits and punctuation"),
    ("enterprise.length", "an enterprise number has neither 10 digits nor 9 (the legacy form, read with a 0)"),
    ("enterprise.first_digit", "an enterprise number does not start with 0 or 1"),
    ("enterprise.check_digits", "an enterprise number's check digits do not match"),
    # envelope and generic field formats
    ("envelope.ticket", "a ticket is set but is not a UUID"),
    ("envelope.sender_reference", "the sender's reference is blank or longer than 100 characters"),
    ("envelope.schema_version", "the schema version is below 1"),
    ("text.blank", "a required text field is empty or only spaces"),
    ("date.range", "a date lies outside 1900-01-01..2099-12-31 (almost always a typing error)"),
    ("period.end_before_start", "a period ends before it starts"),
    ("joint_committee.format", "a joint committee is not 3 digits optionally followed by .2 digits"),
    ("municipality.format", "a municipality NIS code is not 5 digits"),
    ("address.postal_code", "a Belgian postal code is not 4 digits in 1000..9999"),
    ("address.country", "a country is not an ISO 3166-1 alpha-2 code in upper case"),
    ("address.municipality_required", "a Belgian address has no municipality NIS code"),
    ("uuid.format", "a reference to a ticket is not a UUID"),
    # DIMONA
    ("dimona.planned_end_before_start", "a DIMONA IN's planned end precedes its start"),
    ("dimona.student_end_required", "a student (STU) DIMONA IN has no planned end date"),
    ("dimona.planned_hours", "planned hours are missing for a student, or outside 1..650"),
    ("dimona.planned_hours_not_student", "planned hours are given for a worker who is not a student"),
    ("dimona.end_before_start", "a DIMONA OUT's end date precedes the relation's start"),
    ("dimona.update_empty", "a DIMONA UPDATE changes nothing"),
    ("dimona.update_end_before_start", "a DIMONA UPDATE's new end precedes the (new) start"),
    ("dimona.batch_size", "a DIMONA batch holds no declaration or more than 20"),
    ("dimona.batch_sender", "a batch item's sender or environment differs from the batch's"),
    # DmfA
    ("dmfa.quarter_format", "a quarter is not YYYY-Qn with n in 1..4"),
    ("dmfa.version", "an ORIGINAL is not version 1, or a CORRECTION is not version >= 2"),
    ("dmfa.no_worker_lines", "a DmfA has no worker line"),
    ("dmfa.duplicate_line", "two worker lines have the same worker, category and joint committee"),
    ("dmfa.amount_negative", "a gross wage is negative"),
    ("dmfa.days_negative", "days worked or assimilated days are negative (or assimilated days zero)"),
    ("dmfa.days_exceed_quarter", "days worked plus assimilated days exceed the days of the quarter"),
    ("dmfa.duplicate_reason", "a worker line gives the same assimilation reason twice"),
    # civil
    ("civil.birth_date_mismatch", "a birth date disagrees with the birth date the child's NISS encodes"),
    ("civil.parents_count", "a birth names more than 2 parents"),
    ("civil.parent_is_child", "a parent's NISS equals the child's"),
    ("civil.parents_duplicate", "the same parent is named twice"),
    ("civil.death_before_birth", "a date of death precedes the birth date the NISS encodes"),
    ("civil.partner_required", "MARRIED or LEGALLY_COHABITING without a partner"),
    ("civil.partner_is_person", "a person is declared their own partner"),
    # directory
    ("directory.sector_format", "a sector code is not upper-case letters, digits and underscores (1..40)"),
    ("directory.capacity_format", "a capacity code is not upper-case letters, digits and underscores (1..20)"),
    # consultation
    ("consultation.requester_not_sender", "the requester differs from the envelope's sender"),
    ("consultation.data_type", "the data type asked for is not a be.crossroads.* schema name"),
    # dispatch, structure and files (structure: streams.codecs.conform, before the rules above)
    ("declaration.unknown_type", "no rule set exists for that declaration type"),
    ("schema.missing", "a required field is missing"),
    ("schema.type", "a value has the wrong type (text for a number, a malformed date, ...)"),
    ("schema.unknown_field", "a field the schema does not have (often a typing error in a field name)"),
    ("schema.enum", "a value is not one of the enum's symbols"),
    ("schema.range", "a number does not fit its Avro type"),
    ("schema.union", "a value fits none of a union's types, or a batch item does not say its type"),
    ("schema.encode", "the record passed the structural checks but still could not be encoded"),
    ("file.json", "a JSON Lines line is not one JSON object"),
    ("file.type_missing", "a record does not say its declaration type and no --type was given"),
)

_STATE: tuple[tuple[str, str], ...] = (
    # senders (streams.domain.senders: the seal and the senders register)
    (
        "envelope.sender_not_authenticated",
        "the record carries no valid seal, or its envelope names a sender other than the producer the seal proves",
    ),
    ("envelope.not_authentic_source", "the declaration comes from another sender than its authentic source"),
    (
        "envelope.sender_not_mandated",
        "a DIMONA or DmfA sender is neither the employer nor a secretariat it mandated on the day received",
    ),
    (
        "envelope.duplicate_reference",
        "the sender sent this reference already, in a declaration about the same subject the intake admitted within "
        "the window (Settings duplicate_reference_days): a resend is refused, naming the first ticket",
    ),
    # the reference directory (streams.domain.directory)
    ("directory.unknown_institution", "the integrating institution is not in the network"),
    ("directory.sector_mismatch", "the institution belongs to another sector than the integration says"),
    ("directory.unknown_capacity", "the sector has no such capacity"),
    ("directory.not_own_file", "an institution registers or unregisters another institution's file"),
    ("directory.overlap_same_institution", "the institution already holds an overlapping file in that capacity"),
    (
        "directory.overlap",
        "same person, same capacity, overlapping period at two institutions of one sector (seed 4.14)",
    ),
    ("directory.unregister_without_end", "an UNREGISTER does not give the last day the file was held"),
    ("directory.not_registered", "an UNREGISTER for a file the directory does not hold"),
    ("directory.end_before_start", "an UNREGISTER ends the file before its start"),
    # employment relations (DIMONA, streams.domain.directory)
    ("dimona.duplicate_in", "a DIMONA IN for a relation of the same employer and start that exists already"),
    ("dimona.relation_overlap", "a DIMONA IN overlaps a relation (open or ended) of the same employer and worker"),
    ("dimona.out_without_in", "a DIMONA OUT for a relation the directory does not know"),
    ("dimona.update_without_in", "a DIMONA UPDATE for a relation the directory does not know"),
    ("dimona.cancel_without_in", "a DIMONA CANCEL for a relation the directory does not know"),
    ("dimona.end_before_relation_start", "a DIMONA OUT ends before the relation's current start (moved by an UPDATE)"),
    # DmfA versions (streams.domain.dmfa, the DmfA step keyed by employer)
    (
        "dmfa.correction_without_original",
        "a DmfA CORRECTION for a quarter without an accepted ORIGINAL (decided by the DmfA step)",
    ),
    ("dmfa.version_not_next", "a DmfA version that is not the next one for (employer, quarter) (the DmfA step)"),
    (
        "dmfa.worker_without_dimona",
        "a warning, not a refusal: a DmfA worker line for a worker without an employment relation (DIMONA) with the "
        "employer that quarter (found by the worker's directory)",
    ),
)

_FILE: tuple[tuple[str, str], ...] = (
    ("file.type", "the file name's type code is not a known file type"),
    ("file.sender", "the file's sender is no enterprise number, not the folder's partner, or a record claims another"),
    ("file.date", "the file name's date is not YYYYMMDD"),
    ("file.seq", "the file name's sequence is not 1 to 6 digits"),
    ("file.environment", "the environment is neither R nor T, or a record's differs from the file's"),
    ("file.unreadable", "the file cannot be read as its format"),
    ("file.truncated", "the file ends in the middle of a record"),
    ("file.trailer", "more than one trailer, or a trailer that is not the last record, or a malformed one"),
    ("file.trailer_count", "the trailer's record count differs from the records in the file"),
    ("file.empty", "the file holds no record"),
    ("file.identity_reused", "the file's identity (sender, date, sequence, environment) was used by another file"),
    ("file.record_type", "a record's declaration type is not one the file type carries"),
)


class UnknownRuleError(DomainError, LookupError):
    """A code the catalogue does not list: a programming error, never a sender's."""

    def __init__(self, code: str) -> None:
        super().__init__("rule.unknown", f"{code!r} is not in the rules catalogue (streams.domain.validation.rules)")


RULES: dict[str, Rule] = {
    **{code: Rule(code, "intake", text) for code, text in _INTAKE},
    **{code: Rule(code, "state", text) for code, text in _STATE},
    **{code: Rule(code, "file", text) for code, text in _FILE},
}


def rule(code: str) -> Rule:
    """The catalogued rule of ``code``; `UnknownRuleError` when it is not catalogued."""
    found = RULES.get(code)
    if found is None:
        raise UnknownRuleError(code)
    return found

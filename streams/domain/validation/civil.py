"""Intake rules of the National Register's civil events (seed 4.4).  Whether the person is known to the
platform, or already deceased, is state: not intake's to decide."""

from __future__ import annotations

import datetime as dt

from streams.domain.identifiers import PersonNumber
from streams.domain.validation.checker import Checker, Record, check_envelope
from streams.domain.validation.violation import Violation

BIRTH = "be.crossroads.civil.Birth"
ADDRESS_CHANGE = "be.crossroads.civil.AddressChange"
DEATH = "be.crossroads.civil.Death"
CIVIL_STATUS_CHANGE = "be.crossroads.civil.CivilStatusChange"

_PARTNERED = frozenset({"MARRIED", "LEGALLY_COHABITING"})


def _agrees(number: PersonNumber, day: dt.date) -> bool:
    """Does a date agree with the birth date parts the number knows?  Unknown parts agree with anything."""
    known = ((number.birth_year, day.year), (number.birth_month, day.month), (number.birth_day, day.day))
    return all(part is None or part == actual for part, actual in known)


def validate_birth(record: Record) -> list[Violation]:
    """All intake violations of a birth."""
    c = Checker()
    check_envelope(c, record["envelope"])
    child = c.niss("child", record["child"])
    born = c.date("birth_date", record["birth_date"])
    if child is not None and born is not None and not _agrees(child, born):
        c.add(
            "civil.birth_date_mismatch",
            "birth_date",
            f"{born.isoformat()} disagrees with the birth date in the child's NISS {child.formatted}",
        )
    parents = record["parents"]
    if len(parents) > 2:
        c.add("civil.parents_count", "parents", f"{len(parents)} parents named, at most 2")
    for index, parent in enumerate(parents):
        c.niss(f"parents[{index}]", parent)
        if parent == record["child"]:
            c.add("civil.parent_is_child", f"parents[{index}]", "a parent cannot be the child")
        if parent in parents[:index]:
            c.add("civil.parents_duplicate", f"parents[{index}]", "the same parent is named twice")
    c.municipality("municipality_nis", record["municipality_nis"])
    return c.violations


def validate_address_change(record: Record) -> list[Violation]:
    """All intake violations of an address change."""
    c = Checker()
    check_envelope(c, record["envelope"])
    c.niss("person", record["person"])
    c.date("effective_date", record["effective_date"])
    address = record["address"]
    for name in ("street", "number", "postal_code"):
        c.text(f"address.{name}", address[name])
    c.text("address.box", address["box"])
    country = address["country"]
    if not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()):
        c.add("address.country", "address.country", f"{country!r} is not an ISO 3166-1 alpha-2 code like 'BE'")
    if country == "BE":
        postal = address["postal_code"]
        if not (len(postal) == 4 and postal.isascii() and postal.isdigit() and postal[0] != "0"):
            c.add("address.postal_code", "address.postal_code", f"{postal!r} is not a Belgian postal code")
        if address["municipality_nis"] is None:
            c.add(
                "address.municipality_required",
                "address.municipality_nis",
                "a Belgian address needs its municipality's NIS code",
            )
    c.municipality("address.municipality_nis", address["municipality_nis"])
    return c.violations


def validate_death(record: Record) -> list[Violation]:
    """All intake violations of a death."""
    c = Checker()
    check_envelope(c, record["envelope"])
    person = c.niss("person", record["person"])
    died = c.date("date_of_death", record["date_of_death"])
    if person is not None and died is not None:
        born = person.birth_date
        if (born is not None and died < born) or (person.birth_year is not None and died.year < person.birth_year):
            c.add(
                "civil.death_before_birth",
                "date_of_death",
                f"{died.isoformat()} precedes the birth date in the NISS {person.formatted}",
            )
    c.municipality("municipality_nis", record["municipality_nis"])
    return c.violations


def validate_civil_status_change(record: Record) -> list[Violation]:
    """All intake violations of a civil-status change."""
    c = Checker()
    check_envelope(c, record["envelope"])
    c.niss("person", record["person"])
    c.date("effective_date", record["effective_date"])
    partner = record["partner"]
    if partner is None:
        if record["civil_status"] in _PARTNERED:
            c.add("civil.partner_required", "partner", f"{record['civil_status']} needs the partner's NISS")
    else:
        c.niss("partner", partner)
        if partner == record["person"]:
            c.add("civil.partner_is_person", "partner", "a person cannot be their own partner")
    return c.violations

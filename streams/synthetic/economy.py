"""Synthetic employers: an enterprise number, a NACE-BEL 2008 code (``bce-codes-to-label``), a seat, joint
committees, a size.

* Sections are drawn with the rounded share of *employers* per NACE section in Belgium (ONSS/RSZ, orders of
  magnitude: retail and wholesale, construction, hotels and restaurants and professional services are many
  small employers); the subclass (5 digits, ``01110``) uniformly among the section's NACE-BEL 2008 subclasses.
* Sizes follow a Pareto law (most employers have one to four workers, a few have thousands), multiplied for the
  sections where employers are big (public administration, education, health, manufacturing, temporary work).
* Each employer has one joint committee for its blue-collar workers and one for its white-collar workers (they
  differ in most sectors: 111 metal workers / 209 metal employees). ``999`` marks the public service, which has
  no joint committee: a convention of this generator, not of the ONSS.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from streams.synthetic.geography import Municipality
from streams.synthetic.numbers import enterprise_number

__all__ = ["Employer", "JointCommittees", "generate_employers", "nace_subclasses"]

PUBLIC_SERVICE = "999"


@dataclass(frozen=True, slots=True)
class JointCommittees:
    blue: str
    white: str
    blue_share: float


#: (section, share of employers in %, size multiplier, joint-committee variants)
_SECTIONS: tuple[tuple[str, float, float, tuple[JointCommittees, ...]], ...] = (
    ("A", 3.0, 1.0, (JointCommittees("144", "200", 0.9), JointCommittees("145", "200", 0.9))),
    ("B", 0.1, 2.0, (JointCommittees("102", "200", 0.7),)),
    (
        "C",
        7.0,
        3.0,
        (
            JointCommittees("111", "209", 0.6),
            JointCommittees("118", "220", 0.6),
            JointCommittees("116", "207", 0.5),
        ),
    ),
    ("D", 0.3, 3.0, (JointCommittees("326", "326", 0.3),)),
    ("E", 0.5, 2.0, (JointCommittees("142.01", "200", 0.7),)),
    ("F", 13.0, 1.0, (JointCommittees("124", "200", 0.8),)),
    (
        "G",
        22.0,
        1.0,
        (JointCommittees("201", "201", 0.0), JointCommittees("202", "202", 0.1), JointCommittees("311", "312", 0.3)),
    ),
    ("H", 4.0, 2.0, (JointCommittees("140.03", "226", 0.7),)),
    ("I", 12.0, 1.0, (JointCommittees("302", "302", 0.6),)),
    ("J", 3.0, 1.5, (JointCommittees("200", "200", 0.0),)),
    ("K", 2.0, 3.0, (JointCommittees("310", "310", 0.0), JointCommittees("306", "306", 0.0))),
    ("L", 2.0, 1.0, (JointCommittees("323", "323", 0.3),)),
    ("M", 10.0, 1.0, (JointCommittees("200", "200", 0.0),)),
    (
        "N",
        5.0,
        3.0,
        (
            JointCommittees("322", "322", 0.6),
            JointCommittees("121", "200", 0.8),
            JointCommittees("317", "317", 0.8),
            JointCommittees("322.01", "322.01", 0.9),
        ),
    ),
    ("O", 1.0, 30.0, (JointCommittees(PUBLIC_SERVICE, PUBLIC_SERVICE, 0.0),)),
    ("P", 2.0, 15.0, (JointCommittees("152", "225", 0.2),)),
    ("Q", 8.0, 3.0, (JointCommittees("330", "330", 0.3),)),
    ("R", 2.0, 1.0, (JointCommittees("304", "329", 0.3),)),
    ("S", 4.0, 1.0, (JointCommittees("337", "337", 0.2), JointCommittees("314", "314", 0.5))),
    ("T", 0.1, 1.0, (JointCommittees("323", "323", 1.0),)),
)

# NACE Rev. 2 sections by their first and last division (as connectors/clickhouse/dimensions.py)
_DIVISIONS = {
    "A": (1, 3), "B": (5, 9), "C": (10, 33), "D": (35, 35), "E": (36, 39), "F": (41, 43), "G": (45, 47),
    "H": (49, 53), "I": (55, 56), "J": (58, 63), "K": (64, 66), "L": (68, 68), "M": (69, 75), "N": (77, 82),
    "O": (84, 84), "P": (85, 85), "Q": (86, 88), "R": (90, 93), "S": (94, 96), "T": (97, 98), "U": (99, 99),
}  # fmt: skip

_FORMS = {"nl": ("BV", "NV", "CommV", "VZW"), "fr": ("SRL", "SA", "SC", "ASBL"), "de": ("GmbH", "AG", "VoG")}
_NAMES = {
    "nl": ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet"),
    "fr": ("Dubois", "Lambert", "Martin", "Dupont", "Simon", "Laurent", "Leclercq", "Dumont", "Renard", "Lejeune"),
    "de": ("Schmitz", "Kessler", "Mreyen", "Heinen", "Kohnen", "Lentz"),
}
_TRADES = {
    "nl": ("Bouw", "Transport", "Bakkerij", "Consult", "Techniek", "Logistiek", "Zorg", "Handel"),
    "fr": ("Construction", "Transports", "Boulangerie", "Conseil", "Technique", "Logistique", "Soins", "Commerce"),
    "de": ("Bau", "Transport", "Bäckerei", "Beratung", "Technik", "Handel"),
}


@dataclass(frozen=True, slots=True)
class Employer:
    enterprise_number: str
    name: str
    nace_code: str  # NACE-BEL 2008 subclass, 5 digits (01110)
    section: str
    municipality_nis: str
    joint_committees: JointCommittees
    size: float  # relative number of workers (jobs are drawn in proportion)

    @property
    def is_public_service(self) -> bool:
        return self.joint_committees.white == PUBLIC_SERVICE


@functools.cache
def nace_subclasses() -> dict[str, tuple[str, ...]]:
    """NACE-BEL 2008 subclasses (5 digits) by section letter, from ``bce-codes-to-label``."""
    from bce_codes_to_label import nace

    by_section: dict[str, list[str]] = {letter: [] for letter in _DIVISIONS}
    for key, entry in nace.codes.items():
        if not str(key).startswith("2008:") or entry.get("level") != 5:
            continue
        code = str(entry.get("value", ""))
        if not (code.isdigit() and len(code) == 5):
            continue
        division = int(code[:2])
        for letter, (first, last) in _DIVISIONS.items():
            if first <= division <= last:
                by_section[letter].append(code)
                break
    return {letter: tuple(sorted(codes)) for letter, codes in by_section.items() if codes}


def generate_employers(
    rng: random.Random, count: int, places: tuple[Municipality, ...], weights: list[float], taken: set[str]
) -> list[Employer]:
    """``count`` employers with distinct, valid enterprise numbers not in ``taken`` (the network's own)."""
    subclasses = nace_subclasses()
    sections = [s for s in _SECTIONS if s[0] in subclasses]
    section_weights = [s[1] for s in sections]
    employers: list[Employer] = []
    numbers: set[str] = set(taken)
    for _ in range(count):
        while True:
            # 0200.000.0xx .. 1099.999.9xx: the ranges the KBO/BCE has handed out
            number = enterprise_number(rng.randrange(2_000_000, 11_000_000))
            if number not in numbers:
                numbers.add(number)
                break
        letter, _, multiplier, variants = rng.choices(sections, section_weights)[0]
        place = rng.choices(places, weights)[0]
        language = place.language
        size = min(5000.0, (1.0 - rng.random()) ** (-1 / 1.2)) * multiplier
        name = f"{rng.choice(_NAMES[language])} {rng.choice(_TRADES[language])} {rng.choice(_FORMS[language])}"
        employers.append(
            Employer(
                enterprise_number=number,
                name=name,
                nace_code=rng.choice(subclasses[letter]),
                section=letter,
                municipality_nis=place.nis,
                joint_committees=rng.choice(variants),
                size=size,
            )
        )
    return employers

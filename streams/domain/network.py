"""The network as data: institutions, their sectors and capacities, and the authorization matrix.

The seed (4.2, 3.5) describes what the Crossroads Bank knows about the social sector besides the people in it:

* which *institutions* are connected, each belonging to one *sector* (mutualities, unemployment, family
  allowances, CPAS/OCMW, pensions, employment offices, tax);
* for each sector, the *capacities* (qualité / hoedanigheid) under which a citizen can be known there;
* for each (sector, capacity), the data types it may receive from the others, as authorized by a deliberation
  of the sectoral committee (comité sectoriel), for a period.  Those authorizations are public by law.

This module is the pure model of that and its queries.  It reads no files: :func:`parse_network` builds a
:class:`Network` from already-parsed documents (``streams.network_files`` reads them from YAML) and reports
*every* problem at once, so whoever edits the files fixes them in one round.

The queries run per fact and per directory holder on the fan-out's hot path, hence the index built once at
construction: :meth:`Network.authorization` is a dict lookup and a bisection.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from streams.domain.errors import DomainError, InvalidIdentifierError
from streams.domain.identifiers import EnterpriseNumber
from streams.domain.kinds import PUSHED_DATA_TYPES

__all__ = [
    "DEFAULT_PROVISIONAL_DAYS",
    "DOCUMENTS",
    "AuthenticSource",
    "Authorization",
    "ConsultedData",
    "DataType",
    "Institution",
    "Mandate",
    "Network",
    "NetworkError",
    "Problem",
    "Secretariat",
    "Sector",
    "parse_network",
]


class ConsultedData(StrEnum):
    """What an institution may ask for (a consultation request's ``data_type``), answered from the person's file."""

    IDENTITY = "be.crossroads.consultation.Identity"  # identity, from the civil facts
    EMPLOYMENT = "be.crossroads.consultation.Employment"  # employment relations, from DIMONA
    WAGES = "be.crossroads.consultation.Wages"  # wages and working time, from DmfA
    DIRECTORY_ENTRIES = "be.crossroads.consultation.DirectoryEntries"  # the requester's own directory entries


class _DataType(StrEnum):
    @property
    def short_name(self) -> str:
        return self.value.rpartition(".")[2]


def _constant(schema_name: str) -> str:
    """``be.crossroads.civil.AddressChange`` -> ``ADDRESS_CHANGE``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", schema_name.rpartition(".")[2]).upper()


#: What an authorization can grant: the full Avro name of the data exchanged. The data pushed to holders'
#: mailboxes by the fan-out are the pushed kinds' schema names (`streams.domain.kinds`: a new kind brings its
#: own), then what can be consulted (`ConsultedData`).
DataType: type[_DataType] = _DataType(  # type: ignore[call-arg,assignment]  # members from the kinds
    "DataType",
    [(_constant(name), name) for name in sorted(PUSHED_DATA_TYPES)] + [(c.name, c.value) for c in ConsultedData],
)


# The three documents of a network, in the order they must be read: institutions and authorizations refer
# to the sectors.
DOCUMENTS = ("sectors", "institutions", "authorizations", "secretariats", "mandates", "authentic_sources")

# Sector codes are what directory integrations carry (``directory.sector_format`` accepts [A-Z0-9_]{1,40}):
# upper snake case, starting with a letter.  Capacity codes follow the integration's ``capacity`` field.
_SECTOR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,39}")
_CAPACITY_CODE = re.compile(r"[A-Z0-9_]{1,20}")

# Employers are actors of the network, but with their own access key (their DIMONA declarations say whom
# they employ, seed 4.13), not a sector whose capacities the directory records.
_NOT_A_SECTOR = "EMPLOYER"

# How long a PROVISIONAL directory registration is held, in days from the file's start, unless its institution
# confirms it (registers the same file DEFINITIVE): a sector may set its own (`provisional_days`). The seed
# gives no period (it does not mention provisional files at all); 90 days is the platform's choice, one
# quarter: long enough to confirm a file opened on an application, short enough that an abandoned one stops
# receiving data within a quarter (docs/directory.md, "Provisional files").
DEFAULT_PROVISIONAL_DAYS = 90
_MAX_PROVISIONAL_DAYS = 36_500


# -- problems ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a network, located as precisely as the caller could.

    ``document`` and ``index`` say which entry (``institutions[3]``), ``entry`` names it for humans (its code
    or enterprise number); the file shell adds ``file`` and ``line``.  ``code`` is stable, the message is not.
    """

    code: str
    message: str
    document: str = ""
    index: int | None = None
    entry: str = ""
    file: str | None = None
    line: int | None = None

    def at(self, document: str, index: int | None = None, entry: str = "") -> Problem:
        return dataclasses.replace(self, document=document, index=index, entry=entry or self.entry)

    def __str__(self) -> str:
        place = ""
        if self.file:
            place = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        subject = self.document + (f"[{self.index}]" if self.index is not None else "")
        if self.entry:
            subject = f"{subject} {self.entry}".strip()
        return f"{place}{subject + ': ' if subject else ''}{self.message} [{self.code}]"


class NetworkError(DomainError, ValueError):
    """A network definition was refused.  ``problems`` lists every problem found, one readable line each;
    ``details`` keeps them structured (code, document, entry, file, line)."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.details = tuple(problems)
        self.problems = [str(p) for p in self.details]
        count = len(self.problems)
        super().__init__("network.invalid", f"{count} problem{'s' if count != 1 else ''}:\n" + "\n".join(self.problems))


def _suggest(word: str, choices: Iterable[str], cutoff: float = 0.75) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _raise_if(problems: list[Problem]) -> None:
    if problems:
        raise NetworkError(problems)


# -- the model --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sector:
    """A branch of the social sector and the capacities under which it can know a person.

    ``capacities`` maps a capacity code (``TITULAR``) to its description (``titulaire``)."""

    code: str
    name: str
    capacities: Mapping[str, str] = field(hash=False)
    provisional_days: int = DEFAULT_PROVISIONAL_DAYS  # how long its provisional files are held unless confirmed

    def __post_init__(self) -> None:
        # A read-only view, so that nobody adds a capacity to a running network behind the validation's back.
        object.__setattr__(self, "capacities", MappingProxyType(dict(self.capacities)))
        _raise_if(list(_sector_problems(self)))


def _sector_problems(sector: Sector) -> Iterator[Problem]:
    if sector.code == _NOT_A_SECTOR:
        yield Problem(
            "network.employer_not_sector",
            "EMPLOYER is not a sector: employers reach the network with "
            "their own access key (their DIMONA declarations), they are not listed here",
        )
    elif not _SECTOR_CODE.fullmatch(sector.code):
        yield Problem(
            "network.sector_code",
            f"sector code {sector.code!r} is not upper snake case like "
            "'FAMILY_ALLOWANCES' (A-Z, 0-9, _, starting with a letter, at most 40)",
        )
    if not sector.name.strip():
        yield Problem("network.empty_text", "the sector's name is empty")
    if not sector.capacities:
        yield Problem("network.no_capacities", "a sector must declare at least one capacity")
    for capacity, description in sector.capacities.items():
        if not _CAPACITY_CODE.fullmatch(capacity):
            yield Problem("network.capacity_code", f"capacity code {capacity!r} is not A-Z, 0-9 and _ (at most 20)")
        if not description.strip():
            yield Problem("network.empty_text", f"capacity {capacity!r} has an empty description")
    days: object = sector.provisional_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= _MAX_PROVISIONAL_DAYS:
        yield Problem(
            "network.provisional_days",
            f"provisional_days: expected a whole number of days from 1 to {_MAX_PROVISIONAL_DAYS}, "
            f"got {type(days).__name__} {days!r}",
        )


@dataclass(frozen=True, slots=True)
class Institution:
    """An institution connected to the network: its mailbox and directory entries are keyed by its enterprise
    number, always held here as the 10 digits without punctuation."""

    enterprise_number: str
    name: str
    sector: str

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        _hold_digits(self, "enterprise_number", problems)
        if not self.name.strip():
            problems.append(Problem("network.empty_text", "the institution's name is empty"))
        _raise_if(problems)

    @property
    def formatted_number(self) -> str:
        return _formatted(self.enterprise_number)


@dataclass(frozen=True, slots=True)
class Authorization:
    """A deliberation of the sectoral committee: institutions of ``sector`` may receive ``data_types`` about
    the people they know in ``capacity``, from ``valid_from`` to ``valid_to`` (both inclusive; ``None`` =
    open).  ``legal_basis`` is the deliberation's reference, quoted in every audit record; ``purpose`` says
    why, for the published view."""

    sector: str
    capacity: str
    data_types: frozenset[str]
    legal_basis: str
    valid_from: dt.date
    valid_to: dt.date | None
    purpose: str = ""

    def __post_init__(self) -> None:
        problems = list(_authorization_problems(self))
        _raise_if(problems)
        # Members of DataType compare and hash like their strings, and print their full names in the view.
        object.__setattr__(self, "data_types", frozenset(DataType(t) for t in self.data_types))

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: Authorization) -> bool:
        ends_before = self.valid_to is not None and self.valid_to < other.valid_from
        starts_after = other.valid_to is not None and other.valid_to < self.valid_from
        return not (ends_before or starts_after)

    @property
    def period(self) -> str:
        return f"{self.valid_from.isoformat()} → {self.valid_to.isoformat() if self.valid_to else 'open'}"


_KNOWN_DATA_TYPES = frozenset(t.value for t in DataType)


def _authorization_problems(grant: Authorization) -> Iterator[Problem]:
    if not grant.data_types:
        yield Problem("network.no_data_types", "an authorization must grant at least one data type")
    for data_type in sorted(grant.data_types):
        if data_type not in _KNOWN_DATA_TYPES:
            yield Problem(
                "network.unknown_data_type",
                f"unknown data type {data_type!r}"
                f"{_suggest(data_type, _KNOWN_DATA_TYPES)}; data types are full Avro names, see DataType",
            )
    if not grant.legal_basis.strip():
        yield Problem(
            "network.empty_legal_basis",
            "the legal basis (deliberation reference) is empty: every "
            "delivery is logged with it, an authorization without one cannot be audited",
        )
    if grant.valid_to is not None and grant.valid_to < grant.valid_from:
        yield Problem("network.period", f"valid_to {grant.valid_to} is before valid_from {grant.valid_from}")


def _grant_label(grant: Authorization) -> str:
    return f"{grant.sector}/{grant.capacity} {grant.legal_basis}".strip()


@dataclass(frozen=True, slots=True)
class Secretariat:
    """A social secretariat (secrétariat social / sociaal secretariaat): it declares for the employers that
    gave it a mandate (mandates.yaml).  Enterprise number held as its 10 digits."""

    enterprise_number: str
    name: str

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        _hold_digits(self, "enterprise_number", problems)
        if not self.name.strip():
            problems.append(Problem("network.empty_text", "the secretariat's name is empty"))
        _raise_if(problems)

    @property
    def formatted_number(self) -> str:
        return _formatted(self.enterprise_number)


@dataclass(frozen=True, slots=True)
class Mandate:
    """``secretariat`` may declare DIMONA and DmfA for ``employer`` from ``valid_from`` to ``valid_to`` (both
    inclusive; ``None`` = open).  Enterprise numbers held as their 10 digits."""

    secretariat: str
    employer: str
    valid_from: dt.date
    valid_to: dt.date | None

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for name in ("secretariat", "employer"):
            _hold_digits(self, name, problems, label=f"{name}: ")
        if not problems and self.secretariat == self.employer:
            problems.append(Problem("network.mandate_self", "an employer needs no mandate to declare for itself"))
        if self.valid_to is not None and self.valid_to < self.valid_from:
            problems.append(
                Problem("network.period", f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
            )
        _raise_if(problems)

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: Mandate) -> bool:
        ends_before = self.valid_to is not None and self.valid_to < other.valid_from
        starts_after = other.valid_to is not None and other.valid_to < self.valid_from
        return not (ends_before or starts_after)

    @property
    def period(self) -> str:
        return f"{self.valid_from.isoformat()} → {self.valid_to.isoformat() if self.valid_to else 'open'}"


@dataclass(frozen=True, slots=True)
class AuthenticSource:
    """The only actor that may declare the ``declarations`` (a schema namespace such as
    ``be.crossroads.civil``, or one full schema name): the civil events come from the National Register."""

    declarations: str
    enterprise_number: str
    name: str

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        _hold_digits(self, "enterprise_number", problems)
        if not _DECLARATIONS.fullmatch(self.declarations):
            problems.append(
                Problem(
                    "network.declarations",
                    f"declarations {self.declarations!r} is not a be.crossroads.* namespace or schema name",
                )
            )
        if not self.name.strip():
            problems.append(Problem("network.empty_text", "the authentic source's name is empty"))
        _raise_if(problems)

    def covers(self, schema_name: str) -> bool:
        return schema_name == self.declarations or schema_name.startswith(self.declarations + ".")


_DECLARATIONS = re.compile(r"be\.crossroads(\.[A-Za-z_][A-Za-z0-9_]*)+")


def _hold_digits(entry: object, name: str, problems: list[Problem], label: str = "") -> None:
    """Hold the enterprise number in field `name` of a frozen entry as its 10 digits, or record why not."""
    try:
        object.__setattr__(entry, name, EnterpriseNumber.parse(getattr(entry, name)).digits)
    except InvalidIdentifierError as exc:
        problems.append(
            Problem("network.enterprise_number", f"{label}invalid enterprise number ({exc.code}): {exc.message}")
        )


def _formatted(digits: str) -> str:
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


_Key = tuple[str, str, str]  # (sector, capacity, data type)


@dataclass(frozen=True, slots=True)
class _Periods:
    """The successive authorizations of one (sector, capacity, data type), sorted and non-overlapping."""

    starts: tuple[dt.date, ...]
    grants: tuple[Authorization, ...]

    def on(self, day: dt.date) -> Authorization | None:
        # The only candidate is the last one starting on or before the day; it applies if it has not ended.
        i = bisect_right(self.starts, day) - 1
        if i < 0:
            return None
        grant = self.grants[i]
        return grant if grant.valid_to is None or day <= grant.valid_to else None


@dataclass(frozen=True, slots=True)
class Network:
    """One version of the network.  Build it with :func:`parse_network` (or :meth:`of`); both refuse an
    inconsistent network with a :class:`NetworkError`."""

    version: str
    sectors: Mapping[str, Sector] = field(hash=False)
    institutions: Mapping[str, Institution] = field(hash=False)
    authorizations: tuple[Authorization, ...]
    secretariats: Mapping[str, Secretariat] = field(default_factory=dict, hash=False)
    mandates: tuple[Mandate, ...] = ()
    authentic_sources: tuple[AuthenticSource, ...] = ()
    _index: Mapping[_Key, _Periods] = field(init=False, repr=False, compare=False, hash=False)
    _by_sector: Mapping[str, tuple[Authorization, ...]] = field(init=False, repr=False, compare=False, hash=False)
    _mandates: Mapping[tuple[str, str], tuple[Mandate, ...]] = field(init=False, repr=False, compare=False, hash=False)

    @classmethod
    def of(
        cls,
        version: str,
        sectors: Iterable[Sector],
        institutions: Iterable[Institution],
        authorizations: Iterable[Authorization],
        secretariats: Iterable[Secretariat] = (),
        mandates: Iterable[Mandate] = (),
        authentic_sources: Iterable[AuthenticSource] = (),
    ) -> Network:
        return cls(
            version,
            {s.code: s for s in sectors},
            {i.enterprise_number: i for i in institutions},
            tuple(authorizations),
            {s.enterprise_number: s for s in secretariats},
            tuple(mandates),
            tuple(authentic_sources),
        )

    def __post_init__(self) -> None:
        _raise_if(
            _key_problems(self.sectors, self.institutions)
            + _reference_problems(
                list(enumerate(self.sectors.values())),
                list(enumerate(self.institutions.values())),
                list(enumerate(self.authorizations)),
            )
            + _sender_problems(
                list(enumerate(self.secretariats.values())),
                list(enumerate(self.mandates)),
                list(enumerate(self.authentic_sources)),
            )
        )
        object.__setattr__(self, "secretariats", MappingProxyType(dict(self.secretariats)))
        by_pair: defaultdict[tuple[str, str], list[Mandate]] = defaultdict(list)
        for mandate in self.mandates:
            by_pair[(mandate.secretariat, mandate.employer)].append(mandate)
        object.__setattr__(self, "_mandates", MappingProxyType({k: tuple(v) for k, v in by_pair.items()}))
        object.__setattr__(self, "sectors", MappingProxyType(dict(self.sectors)))
        object.__setattr__(self, "institutions", MappingProxyType(dict(self.institutions)))
        object.__setattr__(self, "_index", MappingProxyType(_build_index(self.authorizations)))
        by_sector: defaultdict[str, list[Authorization]] = defaultdict(list)
        for grant in sorted(self.authorizations, key=_display_order):
            by_sector[grant.sector].append(grant)
        object.__setattr__(self, "_by_sector", MappingProxyType({k: tuple(v) for k, v in by_sector.items()}))

    # -- queries (pure; the fan-out and consultation call them per fact and per holder) --

    def institution(self, enterprise_number: str) -> Institution | None:
        """The institution with these 10 digits (no punctuation: the form topics and mailboxes use)."""
        return self.institutions.get(enterprise_number)

    def sector_of(self, enterprise_number: str) -> str | None:
        institution = self.institutions.get(enterprise_number)
        return institution.sector if institution else None

    def provisional_days(self, sector: str) -> int:
        """How many days from its start a provisional file of ``sector`` is held unless confirmed."""
        known = self.sectors.get(sector)
        return known.provisional_days if known is not None else DEFAULT_PROVISIONAL_DAYS

    def is_capacity(self, sector: str, capacity: str) -> bool:
        known = self.sectors.get(sector)
        return known is not None and capacity in known.capacities

    def authorization(self, sector: str, capacity: str, data_type: str, on: dt.date) -> Authorization | None:
        """The authorization that lets (sector, capacity) receive ``data_type`` on that day, or ``None``.

        At most one can apply: validation refuses overlapping periods for the same triple."""
        periods = self._index.get((sector, capacity, data_type))
        return periods.on(on) if periods else None

    def authorizations_for(self, sector: str) -> list[Authorization]:
        """Every authorization of a sector, past, present and future, by capacity then start."""
        return list(self._by_sector.get(sector, ()))

    def institutions_in(self, sector: str) -> list[Institution]:
        return sorted((i for i in self.institutions.values() if i.sector == sector), key=lambda i: i.name)

    def mandate(self, secretariat: str, employer: str, on: dt.date) -> Mandate | None:
        """The mandate that lets ``secretariat`` declare for ``employer`` on that day (10 digits each), or
        ``None``.  At most one applies: validation refuses overlapping periods for the same pair."""
        return next((m for m in self._mandates.get((secretariat, employer), ()) if m.is_valid_on(on)), None)

    def authentic_source(self, schema_name: str) -> AuthenticSource | None:
        """Who alone may declare ``schema_name`` (a full schema name), or ``None`` when anyone may (subject to
        the other sender rules).  At most one applies: validation refuses two sources covering one kind."""
        return next((s for s in self.authentic_sources if s.covers(schema_name)), None)


def _display_order(grant: Authorization) -> tuple[str, str, dt.date, str]:
    return grant.sector, grant.capacity, grant.valid_from, grant.legal_basis


def _build_index(authorizations: Iterable[Authorization]) -> dict[_Key, _Periods]:
    grouped: defaultdict[_Key, list[Authorization]] = defaultdict(list)
    for grant in authorizations:
        for data_type in grant.data_types:
            grouped[(grant.sector, grant.capacity, data_type)].append(grant)
    index = {}
    for key, grants in grouped.items():
        ordered = tuple(sorted(grants, key=lambda g: g.valid_from))
        index[key] = _Periods(tuple(g.valid_from for g in ordered), ordered)
    return index


def _key_problems(sectors: Mapping[str, Sector], institutions: Mapping[str, Institution]) -> list[Problem]:
    """Only reachable through the constructor: mappings whose keys disagree with their values."""
    problems = [
        Problem("network.key", f"sector filed under {key!r} has code {s.code!r}", "sectors")
        for key, s in sectors.items()
        if key != s.code
    ]
    problems += [
        Problem("network.key", f"institution filed under {key!r} has number {i.enterprise_number!r}", "institutions")
        for key, i in institutions.items()
        if key != i.enterprise_number
    ]
    return problems


# -- consistency between documents ------------------------------------------------------------------------

_Numbered = Sequence[tuple[int, Any]]


def _reference_problems(
    sectors: Sequence[tuple[int, Sector]],
    institutions: Sequence[tuple[int, Institution]],
    authorizations: Sequence[tuple[int, Authorization]],
    refused_sectors: Iterable[str] = (),
) -> list[Problem]:
    """Problems between entries: duplicates, references to undeclared sectors or capacities, overlaps.
    Entries come with their index in their document, so that every problem points at the right one.

    References to ``refused_sectors`` (already reported as invalid) are not reported again: the fix is in the
    sector, and one mistake should read as one problem."""
    declared = {s.code: s for _, s in sectors}
    known = declared.keys() | set(refused_sectors)
    return [
        *_duplicates("sectors", sectors, lambda s: s.code, "sector code"),
        *_duplicates(
            "institutions",
            institutions,
            lambda i: i.enterprise_number,
            "enterprise number",
            show=lambda i: i.formatted_number,
        ),
        *_unknown_sectors("institutions", institutions, known, show=_institution_label),
        *_unknown_sectors("authorizations", authorizations, known, show=_grant_label),
        *_undeclared_capacities(authorizations, declared),
        *_overlaps(authorizations),
    ]


def _institution_label(institution: Institution) -> str:
    return f"{institution.formatted_number} {institution.name}"


def _duplicates(
    document: str, entries: _Numbered, key: Callable[[Any], str], what: str, show: Callable[[Any], str] | None = None
) -> Iterator[Problem]:
    first: dict[str, int] = {}
    for index, entry in entries:
        value = key(entry)
        if value in first:
            label = show(entry) if show else value
            yield Problem(
                f"network.duplicate_{document.rstrip('s')}",
                f"duplicate {what} {label}: already declared at {document}[{first[value]}]",
                document,
                index,
                label,
            )
        else:
            first[value] = index


def _unknown_sectors(
    document: str, entries: _Numbered, declared: Collection[str], show: Callable[[Any], str]
) -> Iterator[Problem]:
    for index, entry in entries:
        if entry.sector not in declared:
            yield Problem(
                "network.unknown_sector",
                f"sector {entry.sector!r} is not declared in sectors{_suggest(entry.sector, declared)}",
                document,
                index,
                show(entry),
            )


def _undeclared_capacities(
    authorizations: Sequence[tuple[int, Authorization]], declared: Mapping[str, Sector]
) -> Iterator[Problem]:
    for index, grant in authorizations:
        sector = declared.get(grant.sector)
        if sector is not None and grant.capacity not in sector.capacities:
            yield Problem(
                "network.unknown_capacity",
                f"capacity {grant.capacity!r} is not declared by sector "
                f"{grant.sector} (declared: {', '.join(sector.capacities)})"
                f"{_suggest(grant.capacity, sector.capacities)}",
                "authorizations",
                index,
                _grant_label(grant),
            )


def _overlaps(authorizations: Sequence[tuple[int, Authorization]]) -> Iterator[Problem]:
    """Two authorizations of the same (sector, capacity, data type) must not share a day: the audit record
    names *the* legal basis of a delivery, and with two there would be no telling which."""
    grouped: defaultdict[_Key, list[tuple[int, Authorization]]] = defaultdict(list)
    for index, grant in authorizations:
        for data_type in grant.data_types:
            grouped[(grant.sector, grant.capacity, data_type)].append((index, grant))
    for (_, _, data_type), grants in sorted(grouped.items()):
        yield from _overlaps_within(data_type, sorted(grants, key=lambda pair: pair[1].valid_from))


def _overlaps_within(data_type: str, ordered: list[tuple[int, Authorization]]) -> Iterator[Problem]:
    # Sorted by start, an entry overlaps an earlier one iff it overlaps the earlier one that ends last.
    latest: tuple[int, Authorization] | None = None
    for index, grant in ordered:
        if latest is not None and latest[1].overlaps(grant):
            other_index, other = latest
            yield Problem(
                "network.overlap",
                f"{data_type}: period {grant.period} overlaps {other.period} of "
                f"authorizations[{other_index}] ({other.legal_basis})",
                "authorizations",
                index,
                _grant_label(grant),
            )
        if latest is None or _ends_after(grant, latest[1]):
            latest = (index, grant)


def _ends_after(grant: Authorization, other: Authorization) -> bool:
    if other.valid_to is None:
        return False
    return grant.valid_to is None or grant.valid_to > other.valid_to


# -- the senders register: secretariats, mandates, authentic sources ----------------------------------------


def _sender_problems(
    secretariats: Sequence[tuple[int, Secretariat]],
    mandates: Sequence[tuple[int, Mandate]],
    sources: Sequence[tuple[int, AuthenticSource]],
) -> list[Problem]:
    """Duplicates, mandates of undeclared secretariats, overlapping mandates of one pair, and two authentic
    sources for one kind of declaration (there would be no telling which one is authentic)."""
    declared = {s.enterprise_number for _, s in secretariats}
    problems = list(
        _duplicates(
            "secretariats", secretariats, lambda s: s.enterprise_number, "enterprise number", show=_secretariat_label
        )
    )
    for index, mandate in mandates:
        if mandate.secretariat not in declared:
            problems.append(
                Problem(
                    "network.unknown_secretariat",
                    f"secretariat {_formatted(mandate.secretariat)} is not declared in secretariats",
                    "mandates",
                    index,
                    _mandate_label(mandate),
                )
            )
    grouped: defaultdict[tuple[str, str], list[tuple[int, Mandate]]] = defaultdict(list)
    for index, mandate in mandates:
        grouped[(mandate.secretariat, mandate.employer)].append((index, mandate))
    for _, pair in sorted(grouped.items()):
        # sorted by start, a mandate overlaps an earlier one iff it overlaps the earlier one that ends last
        latest: tuple[int, Mandate] | None = None
        for index, later in sorted(pair, key=lambda item: item[1].valid_from):
            if latest is not None and latest[1].overlaps(later):
                problems.append(
                    Problem(
                        "network.overlap",
                        f"period {later.period} overlaps {latest[1].period} of mandates[{latest[0]}]",
                        "mandates",
                        index,
                        _mandate_label(later),
                    )
                )
            if latest is None or (
                latest[1].valid_to is not None and (later.valid_to is None or later.valid_to > latest[1].valid_to)
            ):
                latest = (index, later)
    for position, (index, source) in enumerate(sources):
        for other_index, other in sources[:position]:
            if source.covers(other.declarations) or other.covers(source.declarations):
                problems.append(
                    Problem(
                        "network.duplicate_authentic_source",
                        f"{source.declarations} already has an authentic source: authentic_sources[{other_index}] "
                        f"{other.declarations} ({_formatted(other.enterprise_number)})",
                        "authentic_sources",
                        index,
                        source.declarations,
                    )
                )
    return problems


def _secretariat_label(secretariat: Secretariat) -> str:
    return f"{secretariat.formatted_number} {secretariat.name}"


def _mandate_label(mandate: Mandate) -> str:
    return f"{_formatted(mandate.secretariat)} for {_formatted(mandate.employer)}"


# -- parsing documents ------------------------------------------------------------------------------------

_SECTOR_KEYS = frozenset({"code", "name", "capacities", "provisional_days"})
_INSTITUTION_KEYS = frozenset({"enterprise_number", "name", "sector"})
_AUTHORIZATION_KEYS = frozenset(
    {"sector", "capacity", "data_types", "legal_basis", "valid_from", "valid_to", "purpose"}
)
# valid_to is required on purpose: an open end must be written (null)
_OPTIONAL_KEYS = frozenset({"purpose", "provisional_days"})


_T = TypeVar("_T")


class _Entry:
    """Reads the fields of one document entry, noting every problem instead of stopping at the first."""

    def __init__(self, raw: Mapping[str, Any], allowed: frozenset[str], problems: list[Problem]) -> None:
        self.raw, self.problems = raw, problems
        for key in sorted(set(raw) - allowed, key=str):
            problems.append(
                Problem("network.unknown_key", f"unknown key {key!r}{_suggest(str(key), allowed, cutoff=0.7)}")
            )
        for key in sorted(allowed - _OPTIONAL_KEYS - set(raw)):
            problems.append(Problem("network.missing_key", f"missing key {key!r}"))

    def _wrong(self, key: str, expected: str) -> None:
        value = self.raw[key]
        self.problems.append(
            Problem("network.type", f"{key}: expected {expected}, got {type(value).__name__} {value!r}")
        )

    def text(self, key: str, default: str | None = None) -> str | None:
        if key not in self.raw:
            return default
        value = self.raw[key]
        if isinstance(value, str):
            return value
        hint = " (quote it: YAML reads an unquoted number such as 0206731645 as an octal integer)"
        self._wrong(key, "a string" + (hint if isinstance(value, int) and key == "enterprise_number" else ""))
        return None

    def texts(self, key: str) -> list[str] | None:
        value = self.raw.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if key in self.raw:
            self._wrong(key, "a list of strings")
        return None

    def text_mapping(self, key: str) -> dict[str, str] | None:
        value = self.raw.get(key)
        if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        if key in self.raw:
            self._wrong(key, "a mapping of code: description (strings)")
        return None

    def date(self, key: str) -> tuple[bool, dt.date | None]:
        """(readable, value): null is a readable ``None``, the open end of a period."""
        value = self.raw.get(key)
        if value is None:
            return key in self.raw, None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return True, value
        if isinstance(value, str):
            try:
                return True, dt.date.fromisoformat(value)
            except ValueError:
                pass
        self._wrong(key, "a date YYYY-MM-DD")
        return False, None


def _has_list(documents: Mapping[str, Any], document: str) -> bool:
    body = documents.get(document)
    return isinstance(body, Mapping) and isinstance(body.get(document), list)


def _entries(
    document: str, documents: Mapping[str, Any], version: str, problems: list[Problem]
) -> list[tuple[int, Mapping[str, Any]]]:
    """The entries of one document, after checking its envelope (a mapping with ``version`` and a list)."""
    body = documents.get(document)
    if body is None:
        problems.append(Problem("network.document_missing", f"the {document} document is missing", document))
        return []
    if not _has_list(documents, document):
        problems.append(
            Problem(
                "network.document_shape", f"expected a mapping with 'version' and a list under '{document}'", document
            )
        )
        return []
    declared = body.get("version")
    if declared is None:
        problems.append(Problem("network.version", "missing 'version'", document))
    elif str(declared) != version:
        problems.append(
            Problem(
                "network.version",
                f"version {str(declared)!r} differs from the network's "
                f"{version!r}: all documents of a network must carry the same version",
                document,
            )
        )
    for key in sorted(set(body) - {"version", document}, key=str):
        problems.append(Problem("network.unknown_key", f"unknown top-level key {key!r}", document))
    entries = []
    for index, raw in enumerate(body[document]):
        if isinstance(raw, Mapping):
            entries.append((index, raw))
        else:
            problems.append(
                Problem("network.entry_shape", f"expected a mapping, got {type(raw).__name__}", document, index)
            )
    return entries


def _build(
    document: str, index: int, label: str, problems: list[Problem], make: Callable[..., _T], *args: Any
) -> _T | None:
    """Construct an entry, moving the model's own objections to this entry's place."""
    try:
        return make(*args)
    except NetworkError as exc:
        problems.extend(p.at(document, index, label) for p in exc.details)
        return None


def _parse_sectors(entries: list[tuple[int, Mapping[str, Any]]], problems: list[Problem]) -> list[tuple[int, Sector]]:
    parsed = []
    for index, raw in entries:
        local: list[Problem] = []
        fields = _Entry(raw, _SECTOR_KEYS, local)
        code, name, capacities = fields.text("code"), fields.text("name"), fields.text_mapping("capacities")
        label = code or ""
        sector = None
        if code is not None and name is not None and capacities is not None:
            days = raw.get("provisional_days", DEFAULT_PROVISIONAL_DAYS)  # its type is the model's to check
            sector = _build("sectors", index, label, local, Sector, code, name, capacities, days)
        problems.extend(p.at("sectors", index, label) for p in local)
        if sector is not None:
            parsed.append((index, sector))
    return parsed


def _parse_institutions(
    entries: list[tuple[int, Mapping[str, Any]]], problems: list[Problem]
) -> list[tuple[int, Institution]]:
    parsed = []
    for index, raw in entries:
        local: list[Problem] = []
        fields = _Entry(raw, _INSTITUTION_KEYS, local)
        number, name, sector = fields.text("enterprise_number"), fields.text("name"), fields.text("sector")
        label = " ".join(part for part in (number, name) if part)
        institution = None
        if number is not None and name is not None and sector is not None:
            institution = _build("institutions", index, label, local, Institution, number, name, sector)
        problems.extend(p.at("institutions", index, label) for p in local)
        if institution is not None:
            parsed.append((index, institution))
    return parsed


def _parse_authorizations(
    entries: list[tuple[int, Mapping[str, Any]]], problems: list[Problem]
) -> list[tuple[int, Authorization]]:
    parsed = []
    for index, raw in entries:
        local: list[Problem] = []
        grant = _parse_authorization(raw, index, local)
        problems.extend(local)
        if grant is not None:
            parsed.append((index, grant))
    return parsed


def _parse_authorization(raw: Mapping[str, Any], index: int, problems: list[Problem]) -> Authorization | None:
    local: list[Problem] = []
    fields = _Entry(raw, _AUTHORIZATION_KEYS, local)
    sector, capacity = fields.text("sector"), fields.text("capacity")
    data_types, legal_basis = fields.texts("data_types"), fields.text("legal_basis")
    purpose = fields.text("purpose", default="")
    from_ok, valid_from = fields.date("valid_from")
    to_ok, valid_to = fields.date("valid_to")
    label = " ".join(part for part in (f"{sector}/{capacity}", legal_basis) if part)
    grant = None
    if (
        sector is not None
        and capacity is not None
        and data_types is not None
        and legal_basis is not None
        and purpose is not None
        and from_ok
        and valid_from is not None
        and to_ok
    ):
        grant = _build(
            "authorizations",
            index,
            label,
            local,
            Authorization,
            sector,
            capacity,
            frozenset(data_types),
            legal_basis,
            valid_from,
            valid_to,
            purpose,
        )
    problems.extend(p.at("authorizations", index, label) for p in local)
    return grant


_SECRETARIAT_KEYS = frozenset({"enterprise_number", "name"})
_MANDATE_KEYS = frozenset({"secretariat", "employer", "valid_from", "valid_to"})
_SOURCE_KEYS = frozenset({"declarations", "enterprise_number", "name"})


def _parse_secretariats(
    entries: list[tuple[int, Mapping[str, Any]]], problems: list[Problem]
) -> list[tuple[int, Secretariat]]:
    parsed = []
    for index, raw in entries:
        local: list[Problem] = []
        fields = _Entry(raw, _SECRETARIAT_KEYS, local)
        number, name = fields.text("enterprise_number"), fields.text("name")
        label = " ".join(part for part in (number, name) if part)
        secretariat = None
        if number is not None and name is not None:
            secretariat = _build("secretariats", index, label, local, Secretariat, number, name)
        problems.extend(p.at("secretariats", index, label) for p in local)
        if secretariat is not None:
            parsed.append((index, secretariat))
    return parsed


def _parse_mandates(entries: list[tuple[int, Mapping[str, Any]]], problems: list[Problem]) -> list[tuple[int, Mandate]]:
    parsed = []
    for index, raw in entries:
        local: list[Problem] = []
        fields = _Entry(raw, _MANDATE_KEYS, local)
        secretariat, employer = fields.text("secretariat"), fields.text("employer")
        from_ok, valid_from = fields.date("valid_from")
        to_ok, valid_to = fields.date("valid_to")
        label = f"{secretariat} for {employer}"
        mandate = None
        if secretariat is not None and employer is not None and from_ok and valid_from is not None and to_ok:
            mandate = _build("mandates", index, label, local, Mandate, secretariat, employer, valid_from, valid_to)
        problems.extend(p.at("mandates", index, label) for p in local)
        if mandate is not None:
            parsed.append((index, mandate))
    return parsed


def _parse_sources(
    entries: list[tuple[int, Mapping[str, Any]]], problems: list[Problem]
) -> list[tuple[int, AuthenticSource]]:
    parsed = []
    for index, raw in entries:
        local: list[Problem] = []
        fields = _Entry(raw, _SOURCE_KEYS, local)
        declarations, number, name = fields.text("declarations"), fields.text("enterprise_number"), fields.text("name")
        label = declarations or ""
        source = None
        if declarations is not None and number is not None and name is not None:
            source = _build("authentic_sources", index, label, local, AuthenticSource, declarations, number, name)
        problems.extend(p.at("authentic_sources", index, label) for p in local)
        if source is not None:
            parsed.append((index, source))
    return parsed


def parse_network(documents: Mapping[str, Any], version: str) -> Network:
    """Build a network from its parsed documents (``sectors``, ``institutions``, ``authorizations``, and the
    senders register: ``secretariats``, ``mandates``, ``authentic_sources``; each
    ``{"version": ..., "<name>": [entries]}``), or raise one :class:`NetworkError` listing every problem.

    ``version`` is the network's version; every document must declare the same."""
    problems: list[Problem] = []
    if not version.strip():
        problems.append(Problem("network.version", "the network has no version"))
    sector_entries = _entries("sectors", documents, version, problems)
    sectors = _parse_sectors(sector_entries, problems)
    institutions = _parse_institutions(_entries("institutions", documents, version, problems), problems)
    authorizations = _parse_authorizations(_entries("authorizations", documents, version, problems), problems)
    refused = {str(raw.get("code")) for _, raw in sector_entries} - {s.code for _, s in sectors}
    if not _has_list(documents, "sectors"):
        # Without a sectors document every reference would be "unknown": its own problem says it all.
        refused |= {i.sector for _, i in institutions} | {a.sector for _, a in authorizations}
    problems += _reference_problems(sectors, institutions, authorizations, refused)
    secretariats = _parse_secretariats(_entries("secretariats", documents, version, problems), problems)
    mandates = _parse_mandates(_entries("mandates", documents, version, problems), problems)
    sources = _parse_sources(_entries("authentic_sources", documents, version, problems), problems)
    problems += _sender_problems(secretariats, mandates, sources)
    _raise_if(problems)
    return Network.of(
        version,
        (s for _, s in sectors),
        (i for _, i in institutions),
        (a for _, a in authorizations),
        (s for _, s in secretariats),
        (m for _, m in mandates),
        (s for _, s in sources),
    )

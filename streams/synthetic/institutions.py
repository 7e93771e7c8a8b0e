"""Which institution of the network serves whom: market shares and territorial competence.

The preferences name institutions of the sample network (deploy/network/v1) by enterprise number.  Another
network works too: a preferred institution missing from it is replaced by the sector's institutions in
enterprise-number order, and a sector or capacity the network lacks is simply never registered.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping
from itertools import accumulate

from streams.domain.network import Network
from streams.synthetic.geography import BRUSSELS, FLANDERS, GERMAN_SPEAKING, Municipality

__all__ = ["Institutions"]

# Members per national union of mutualities, rounded shares in % (INAMI/RIZIV).
_MUTUALITY_SHARES = {
    "0206731645": 40.0,  # Christian
    "0915943977": 28.0,  # Socialist (Solidaris)
    "0350219686": 19.0,  # Independent (Mutualités Libres)
    "0501415665": 6.0,  # Liberal
    "0346557046": 5.0,  # Neutral
    "0377085916": 1.0,  # CAAMI/HZIV (public)
    "0605733029": 1.0,  # HR Rail
}
# Unemployment payment bodies: the unions' and the public CAPAC/HVW, rounded shares in %.
_PAYMENT_BODY_SHARES = {"0924751082": 40.0, "0246779579": 35.0, "0461498284": 10.0, "0783817111": 15.0}
ONEM = "0570880434"  # pays career breaks and time credit itself
SIGEDIS = "0707743375"  # keeps the individual pension accounts (future pensioners)
SFP = "0987406649"  # pays the pensions and the income guarantee
TAX = "0676660320"
_PUBLIC_FUNDS = {FLANDERS: "0260680966", "03000": "0269277740", BRUSSELS: "0298366456"}  # FONS, FAMIWAL, FAMIRIS
_PRIVATE_FUNDS = ("0213303790", "0479862463", "0432104019")  # Infino, Parentia, KidsLife
_EMPLOYMENT_OFFICES = {FLANDERS: "0960831421", "03000": "0537940719", BRUSSELS: "0467384701"}  # VDAB, Forem, Actiris
_ADG = "1009473159"
# The sample network has seven CPAS: everyone is served by the one of their province (a simplification: in
# reality each of the 565 municipalities has its own).
_CPAS_BY_PROVINCE = {
    BRUSSELS: "0432837160", "60000": "0527079192", "80000": "0527079192", "50000": "0552032740",
    "20002": "0552032740", "90000": "0957194317", "10000": "0339892453", "70000": "0874832409",
    "40000": "0637056408", "30000": "0637056408", "20001": "0874832409",
}  # fmt: skip


def _weighted(rng: random.Random, members: tuple[str, ...], cumulative: tuple[float, ...]) -> str:
    return members[min(len(members) - 1, bisect_right(cumulative, rng.random() * cumulative[-1]))]


class Institutions:
    """The network's institutions per sector, with the preferences above resolved against it."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self._by_sector: dict[str, tuple[str, ...]] = {}
        for number, institution in sorted(network.institutions.items()):
            self._by_sector[institution.sector] = (*self._by_sector.get(institution.sector, ()), number)
        self._mutualities = self._shares("MUTUALITY", _MUTUALITY_SHARES)
        self._payment_bodies = self._shares("UNEMPLOYMENT", _PAYMENT_BODY_SHARES, exclude=(ONEM,))
        self._pairs = frozenset(
            (sector.code, capacity)
            for sector in network.sectors.values()
            if self._by_sector.get(sector.code)
            for capacity in sector.capacities
        )

    def has(self, sector: str, capacity: str) -> bool:
        """Does the network have this (sector, capacity) and an institution in the sector?"""
        return (sector, capacity) in self._pairs

    def in_sector(self, sector: str) -> tuple[str, ...]:
        return self._by_sector.get(sector, ())

    def _resolve(self, sector: str, preferred: str) -> str | None:
        institution = self.network.institution(preferred)
        if institution is not None and institution.sector == sector:
            return preferred
        members = self._by_sector.get(sector, ())
        return members[0] if members else None

    def _shares(
        self, sector: str, shares: Mapping[str, float], exclude: tuple[str, ...] = ()
    ) -> tuple[tuple[str, ...], tuple[float, ...]]:
        members = [m for m in self._by_sector.get(sector, ()) if m not in exclude] or list(
            self._by_sector.get(sector, ())
        )
        return tuple(members), tuple(accumulate(shares.get(m, 1.0) for m in members))

    # -- choices --------------------------------------------------------------------------------------------

    def mutuality(self, rng: random.Random, other_than: str | None = None) -> str | None:
        members, weights = self._mutualities
        if not members:
            return None
        for _ in range(10):
            choice = _weighted(rng, members, weights)
            if choice != other_than or len(members) == 1:
                return choice
        return members[0] if members[0] != other_than else members[-1]

    def payment_body(self, rng: random.Random) -> str | None:
        members, weights = self._payment_bodies
        return _weighted(rng, members, weights) if members else None

    def onem(self) -> str | None:
        return self._resolve("UNEMPLOYMENT", ONEM)

    def pension_accounts(self) -> str | None:
        return self._resolve("PENSIONS", SIGEDIS)

    def pensions(self) -> str | None:
        return self._resolve("PENSIONS", SFP)

    def tax(self) -> str | None:
        return self._resolve("TAX", TAX)

    def family_fund(self, rng: random.Random, place: Municipality, *, federal_era: bool = False) -> str | None:
        """A family-allowance fund: the region's public fund (45 %) or a private one; before 2019 the private
        funds only stand for the federal-era funds."""
        if not federal_era and rng.random() < 0.45:
            return self._resolve("FAMILY_ALLOWANCES", _PUBLIC_FUNDS.get(place.region, _PUBLIC_FUNDS[BRUSSELS]))
        return self._resolve("FAMILY_ALLOWANCES", rng.choice(_PRIVATE_FUNDS))

    def employment_office(self, place: Municipality) -> str | None:
        if place.nis in GERMAN_SPEAKING:
            return self._resolve("EMPLOYMENT_OFFICE", _ADG)
        return self._resolve("EMPLOYMENT_OFFICE", _EMPLOYMENT_OFFICES.get(place.region, _EMPLOYMENT_OFFICES[BRUSSELS]))

    def cpas(self, place: Municipality) -> str | None:
        return self._resolve("CPAS", _CPAS_BY_PROVINCE.get(place.province, _CPAS_BY_PROVINCE[BRUSSELS]))

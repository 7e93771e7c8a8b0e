"""A synthetic Belgium for demos, benches and tests: a deterministic (per seed) population with its reference
directory, employers and jobs, and a working day of declarations shaped like the seed's yearly volumes.

Pure generation: no Kafka, no ClickHouse.  In memory::

    population = generate_population(100_000, seed=42)
    for item in population.records():      # the initial state: integrations, addresses, DIMONA IN
        ...
    for item in generate_day(population):  # the day: civil facts, DIMONA, DmfA, integrations, consultations
        item.schema, item.record           # what AvroCodec.encode takes
        item.invalid, item.authorized      # what the platform is expected to say

On disk: ``crossroads generate --citizens N --seed S --out DIR`` (:func:`write_dataset`).  docs/synthetic.md
describes the distributions and the volumes.
"""

from __future__ import annotations

from streams.synthetic.figures import DayVolumes, day_volumes
from streams.synthetic.output import write_dataset, write_employers
from streams.synthetic.population import (
    DEFAULT_DAY,
    Citizen,
    FileEntry,
    Job,
    Population,
    generate_population,
    sample_network,
)
from streams.synthetic.records import FAMILIES, NATIONAL_REGISTER, Generated
from streams.synthetic.traffic import CONSULTATION_TYPES, generate_day

__all__ = [
    "CONSULTATION_TYPES",
    "DEFAULT_DAY",
    "FAMILIES",
    "NATIONAL_REGISTER",
    "Citizen",
    "DayVolumes",
    "FileEntry",
    "Generated",
    "Job",
    "Population",
    "day_volumes",
    "generate_day",
    "generate_population",
    "sample_network",
    "write_dataset",
    "write_employers",
]

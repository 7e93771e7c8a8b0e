"""The chaos suite (`bench/chaos.py`): the platform under faults, on a private stack, compared with a clean run.

Pure parts (no Kafka, no ClickHouse; unit-tested in tests/unit/test_chaos_*.py): `ids` (what came out of a run,
as canonical id sets, and the comparison with the baseline), `fuzz` (the fuzzed messages and what became of
them), `plan` (the workload's phases, the fault schedule), `report` (the JSON shape, the table, the verdict).
Impure parts: `stack` (the private stack and the platform's processes), `supervisor` (restarts), `scenarios`.
"""

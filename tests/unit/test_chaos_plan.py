"""The chaos suite's workload phases, fault schedule and restart policy (bench/chaos/plan.py, supervisor.py)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from chaos import plan
from chaos.supervisor import crash_reason, restart_policy

from streams.synthetic import generate_day, generate_population


def test_phases_put_every_family_in_its_phase_in_order() -> None:
    population = generate_population(150, seed=3)
    records = [*population.records(history=False), *generate_day(population)]
    phases = plan.split_phases(records)
    assert sum(len(p) for p in phases) == len(records)
    assert [{g.family for g in p} for p in phases] == [
        {"integrations"},
        {"dimona"},
        {"civil", "dmfa"} & {g.family for g in phases[2]},
        {"consultations"},
    ]
    for phase in phases:  # each keeps the order the records came in (a CANCEL after its IN)
        positions = [records.index(g) for g in phase]
        assert positions == sorted(positions)


def test_allocation_gives_each_phase_one_then_splits_by_weight() -> None:
    # one each, then the 6 left by largest remainder of 6 x weight / total: 2.94, 0.59, 2.35, 0.12
    assert plan.allocate(10, [5000, 1000, 4000, 200]) == [4, 2, 3, 1]
    assert sum(plan.allocate(7, [1, 1, 1])) == 7
    assert plan.allocate(2, [5, 0, 1, 1]) == [2, 0, 0, 0]  # fewer than the phases: by weight only
    assert plan.allocate(3, [0, 0]) == [0, 0]
    assert plan.allocate(5, [1, 1], at_least_one=False) in ([3, 2], [2, 3])


def test_the_schedule_is_seeded_sorted_and_inside_the_bounds() -> None:
    weights = [2880, 1028, 4785, 188]
    first = plan.schedule(random.Random(1), 10, weights)
    assert first == plan.schedule(random.Random(1), 10, weights)
    assert first == sorted(first) and len(first) == 10
    assert {t.phase for t in first} == {0, 1, 2, 3}
    assert all(0.05 <= t.fraction < 0.9 for t in first)
    only_first = plan.schedule(random.Random(1), 3, weights, phases=[0])
    assert {t.phase for t in only_first} == {0}


def test_a_trigger_is_due_in_its_phase_once_reached_and_after_progress() -> None:
    trigger = plan.Trigger(1, 0.4)
    assert plan.due(trigger, 1, 0.4, 1.0, 0.02)
    assert not plan.due(trigger, 1, 0.39, 1.0, 0.02)
    assert not plan.due(trigger, 0, 0.9, 1.0, 0.02)
    assert not plan.due(trigger, 1, 0.5, 0.01, 0.02)  # the restarted process has not worked yet


def test_interleaving_keeps_each_sequence_in_order() -> None:
    merged = plan.interleave(random.Random(2), list(range(50)), [f"f{i}" for i in range(30)])
    assert [x for x in merged if isinstance(x, int)] == list(range(50))
    assert [x for x in merged if isinstance(x, str)] == [f"f{i}" for i in range(30)]


def test_restart_policy_restarts_our_kills_at_once_and_gives_up_on_a_crash_loop() -> None:
    ours = restart_policy(ours=True, progressed=False, fruitless=3, max_fruitless=5)
    assert ours == (3, 0.0, False)
    fruitless, delays = 0, []
    for _ in range(4):
        decision = restart_policy(ours=False, progressed=False, fruitless=fruitless, max_fruitless=5)
        fruitless = decision.fruitless
        delays.append(decision.delay_s)
        assert not decision.give_up
    assert delays == [0.5, 1.0, 2.0, 4.0]
    assert restart_policy(ours=False, progressed=False, fruitless=fruitless, max_fruitless=5).give_up
    assert restart_policy(ours=False, progressed=True, fruitless=4, max_fruitless=5) == (1, 0.5, False)


def test_the_crash_reason_is_faust_s_or_the_last_exception_line() -> None:
    faust = ["x", "[ERROR] Agent: Crashed reason=TypeError('boom')", "[INFO] Stopping..."]
    assert crash_reason(faust) == "TypeError('boom')"
    traceback = ["Traceback (most recent call last):", '  File "x.py"', "WarehouseQueryError: out of range"]
    assert crash_reason(traceback) == "WarehouseQueryError: out of range"
    assert crash_reason(["all quiet"]).startswith("(not in")


def test_a_supervised_process_reads_only_its_own_incarnation_of_an_appended_log(tmp_path: Path) -> None:
    from chaos.supervisor import Supervised

    from streams.stack.process import ManagedProcess

    log = tmp_path / "worker.log"
    log.write_text("old crash\nCrashed reason=Old()\n")
    process = ManagedProcess("worker", tmp_path / "worker.pid", log)
    supervised = Supervised("worker", process, ["true"], tmp_path, {}, progress=lambda: None)
    supervised.log_offset = log.stat().st_size
    with log.open("a") as out:
        out.write("starting\nCrashed reason=New()\n")
    assert supervised.own_log(10) == ["starting", "Crashed reason=New()"]
    assert crash_reason(supervised.own_log(10)) == "New()"

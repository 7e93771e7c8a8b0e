"""The scenarios: one run of the workload on a fresh platform of the private stack, with its faults, compared
with the clean baseline.

A `Run` owns one platform (topics under its own prefix, its own app id and database, its worker(s) and
projector under the harness's `Supervisor`), sends the workload phase by phase, drains on evidence after each
phase, and then reads everything. An `Injector` thread fires the scenario's faults when the phase's progress
(as the baseline measured it) reaches each trigger's fraction.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos import fuzz as fuzzing
from chaos import plan
from chaos.ids import Canonical, Sent, canonical, compare, references_by_ticket
from chaos.stack import (
    PrivateStack,
    Probe,
    TrackedProducer,
    audit_verify,
    child_env,
    cleanup,
    codec_for,
    copy_logs,
    drain,
    log,
    prepare,
    projector_sources,
    read_outputs,
    run_settings,
    skip_offset,
    wait_members,
    warehouse_check,
    worker_sources,
)
from chaos.supervisor import Supervised, SupervisionFailed, Supervisor
from streams.codecs import AvroCodec, CodecError
from streams.domain.kinds import subject_key
from streams.kafka.security import client_config
from streams.settings import Settings
from streams.stack.clickhouse import ClickHouseService, grant_roles, revoke_roles
from streams.stack.kafka import KafkaCluster
from streams.stack.process import ManagedProcess
from streams.stack.workers import crossroads_argv
from streams.synthetic import Generated, generate_day, generate_population

WORKER, WORKER_B, PROJECTOR = "worker", "worker-b", "projector"
MIN_STEP = 0.02  # of a phase's expected progress, between two faults: the restarted process works before the next
FUZZ_PREFIX = "fuzz:"


# -- the workload ---------------------------------------------------------------------------------------------


@dataclass
class Workload:
    citizens: int
    seed: int
    phases: list[list[Generated]]
    persons: set[str]  # every person of the population and its day (the fuzz must not touch them)
    fuzz_sources: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(len(p) for p in self.phases)

    def summary(self) -> dict[str, Any]:
        return {
            "citizens": self.citizens,
            "seed": self.seed,
            "records": self.records,
            "phases": {
                name: dict(Counter(g.schema.rpartition(".")[2] for g in records))
                for name, records in zip(plan.PHASES, self.phases, strict=True)
            },
        }


def build_workload(citizens: int, seed: int, fuzz_citizens: int) -> Workload:
    """The population's current state (no directory history) and its whole day, in phases; and the real
    declarations of a second population (another seed) for the fuzz to mutate."""
    population = generate_population(citizens, seed=seed)
    records = [*population.records(history=False), *generate_day(population)]
    persons = {c.niss for c in population.citizens}
    for item in records:
        persons.update(s for s in fuzzing.strings_of(item.record) if len(s) == 11 and s.isdigit())
    other = generate_population(fuzz_citizens, seed=seed + 7919)
    sources = [
        (g.schema, g.record)
        for g in [*other.records(history=False), *generate_day(other)]
        if g.invalid is None and not persons.intersection(fuzzing.strings_of(g.record))
    ]
    return Workload(citizens, seed, plan.split_phases(records), persons, sources)


# -- one run of the workload ----------------------------------------------------------------------------------


@dataclass
class Baseline:
    canonical: Canonical
    written: list[int]  # per phase: records the worker wrote (output topics' high watermarks)
    projected: list[int]  # per phase: offsets the projector committed
    summary: dict[str, Any]


class Run:
    """One platform on the private stack, the workload sent to it, its outputs read."""

    def __init__(
        self,
        name: str,
        stack: Settings,
        workload: Workload,
        root: Path,
        *,
        workers: int = 1,
        on_cluster: KafkaCluster | None = None,
        clickhouse_owner: Settings | None = None,
    ) -> None:
        self.name = name
        # the stack whose state directory runs ClickHouse (the single node's; a cluster run shares it)
        self.clickhouse_owner = clickhouse_owner or stack
        tag = f"{name.replace('-', '')[:10]}{uuid.uuid4().hex[:6]}"
        self.home = root / name
        self.settings = run_settings(stack, tag, self.home / "a")
        self.stack = stack
        self.workload = workload
        self.codec: AvroCodec = codec_for(self.settings)
        self.probe = Probe(self.settings, f"{name}-probe")
        self.projector_group = f"{self.settings.app_id}-projector"
        self.supervisor = Supervisor()
        self.cluster = on_cluster or KafkaCluster(stack)
        self.workers = workers
        self.phase = -1
        self.base: dict[str, int] = {"worker": 0, "projector": 0}
        self.phase_written: list[int] = []
        self.phase_projected: list[int] = []
        self.phase_seconds: list[float] = []
        self.sent: list[Sent] = []
        self.not_encodable = 0
        self.fuzz_messages: list[fuzzing.FuzzMessage] = []
        self.fuzz_positions: dict[int, tuple[str, int, int]] = {}
        self.details: dict[str, Any] = {}
        self.worker_topics: list[str] = []
        self.projector_topics: list[str] = []
        self.began = time.monotonic()

    # -- processes --

    def metric(self, which: str) -> int | None:
        return self.probe.written() if which == "worker" else self.probe.committed(self.projector_group)

    def _supervise(self, name: str, command: str, settings: Settings, *, fatal: bool) -> None:
        home = settings.state_dir / "workers" / settings.app_id
        process = ManagedProcess(name, home / f"{command}.pid", home / f"{command}.log")
        which = "projector" if command == "projector" else "worker"
        self.supervisor.add(
            Supervised(
                name,
                process,
                [*crossroads_argv(), command],
                home,
                child_env(settings),
                progress=lambda: self.metric(which),
                fatal=fatal,
            )
        )
        home.mkdir(parents=True, exist_ok=True)

    def setup(self) -> None:
        prepare(self.settings)
        # the run's own warehouse: the projector's user gets its rights (users.xml names the stack's only)
        if not grant_roles(self.clickhouse_owner, self.settings.clickhouse.database):
            raise RuntimeError("the chaos stack's ClickHouse is not the project's: its roles cannot be granted")
        self.worker_topics = worker_sources(self.settings)
        self.projector_topics = projector_sources(self.settings)
        self._supervise(WORKER, "worker", self.settings, fatal=True)
        if self.workers == 2:
            self._supervise(
                WORKER_B, "worker", self.settings.model_copy(update={"state_dir": self.home / "b"}), fatal=True
            )
        self._supervise(PROJECTOR, "projector", self.settings, fatal=False)
        self.supervisor.start()
        check = self.check
        wait_members(self.settings, self.settings.app_id, self.workers, timeout=180, check=check)
        wait_members(self.settings, self.projector_group, 1, timeout=180, check=check)

    def check(self) -> None:
        self.supervisor.check()

    def logs(self) -> list[Path]:
        return [p.process.log_file for p in self.supervisor.processes.values()]

    # -- sending and draining --

    def begin_phase(self, index: int) -> None:
        self.base = {"worker": self.metric("worker") or 0, "projector": self.metric("projector") or 0}
        self.phase = index

    def progress(self, which: str) -> int:
        value = self.metric(which)
        return -1 if value is None else value - self.base[which]

    def send(self, items: Sequence[tuple[Any, Any]], producer: TrackedProducer, pace_s: float = 0.0) -> None:
        """Items: ("g", Generated) good records, ("f", FuzzMessage) fuzzed ones. With `pace_s`, spread over at
        least that long (the order is the same, so are the offsets): a fault then lands while the phase is being
        processed, not after a small phase was done in a second."""
        began = time.monotonic()
        for index, (kind, item) in enumerate(items):
            if pace_s and index % 20 == 0:
                ahead = began + pace_s * index / len(items) - time.monotonic()
                if ahead > 0:
                    producer.poll(ahead)
            if kind == "g":
                assert isinstance(item, Generated)
                reference = str(item.record["envelope"]["sender_reference"])
                try:
                    producer.send_record(
                        ("g", reference), item.schema, item.record, subject_key(item.schema, item.record)
                    )
                except CodecError:
                    self.not_encodable += 1
            else:
                assert isinstance(item, fuzzing.FuzzMessage)
                producer.send_raw(("f", item.n), producer.topic(item.intake), item.key, item.value)

    def drain_all(self, timeout: float) -> dict[str, float]:
        worker = drain(self.settings, self.settings.app_id, self.worker_topics, timeout=timeout, check=self.check)
        if self._projector_given_up():
            return {"worker_s": round(worker, 1), "projector_s": -1.0}

        def projector_alive() -> None:
            if self._projector_given_up():
                raise SupervisionFailed(str(self.supervisor.processes[PROJECTOR].gave_up))

        try:
            projector = drain(
                self.settings, self.projector_group, self.projector_topics, timeout=timeout, check=projector_alive
            )
        except SupervisionFailed:
            # reported (the supervisor's give-up is a failure of the scenario); the worker side is still measured
            return {"worker_s": round(worker, 1), "projector_s": -1.0}
        return {"worker_s": round(worker, 1), "projector_s": round(projector, 1)}

    def _projector_given_up(self) -> bool:
        return self.supervisor.processes[PROJECTOR].gave_up is not None

    def execute(
        self, injector: Injector | None = None, fuzz: list[fuzzing.FuzzMessage] | None = None, pace_s: float = 0.0
    ) -> None:
        producer = TrackedProducer(self.settings, self.codec)
        rng = random.Random(f"chaos-fuzz-interleave:{self.workload.seed}")
        fuzz_per_phase = plan.allocate(len(fuzz or []), [len(p) for p in self.workload.phases], at_least_one=False)
        fuzz_left = list(fuzz or [])
        self.fuzz_messages = list(fuzz or [])
        timings = []
        if injector is not None:
            injector.start()
        for index, records in enumerate(self.workload.phases):
            began = time.monotonic()
            self.begin_phase(index)
            good = [("g", g) for g in records]
            mine, fuzz_left = fuzz_left[: fuzz_per_phase[index]], fuzz_left[fuzz_per_phase[index] :]
            paced = pace_s if injector is not None and injector.has_faults(index) else 0.0
            self.send(plan.interleave(rng, good, [("f", m) for m in mine]), producer, paced)
            producer.flush(900, check=self.check)
            timeout = max(600.0, len(records) / 20)
            drained = self.drain_all(timeout)
            if injector is not None and injector.complete_phase(index):
                drained = self.drain_all(timeout)  # a fault fired at the end of the phase: drain again
            self.phase_written.append(max(0, self.progress("worker")))
            self.phase_projected.append(max(0, self.progress("projector")))
            seconds = time.monotonic() - began
            self.phase_seconds.append(round(seconds, 1))
            timings.append(
                {"phase": plan.PHASES[index], "records": len(records), "seconds": round(seconds, 1), **drained}
            )
            log(f"{self.name}: phase {plan.PHASES[index]} ({len(records)} records) done in {seconds:.1f}s")
        self.phase = len(self.workload.phases)
        if injector is not None:
            injector.finish()
        self.details["phases"] = timings
        # positions, as delivered
        sent = []
        for tag, position in producer.positions.items():
            if tag[0] == "g":
                sent.append(Sent(tag[1], *position))
            else:
                self.fuzz_positions[tag[1]] = position
                sent.append(Sent(f"{FUZZ_PREFIX}{tag[1]}", *position))
        self.sent = sent

    def collect(self, baseline: Baseline | None) -> dict[str, Any]:
        """Read everything, check the warehouse and the audit chains, compare with the baseline."""
        outputs = read_outputs(self.settings, self.codec)
        refs = references_by_ticket(self.sent)
        mine = canonical(outputs, refs, keep=lambda reference: not reference.startswith(FUZZ_PREFIX))
        matches, warehouse = warehouse_check(self.settings, outputs)
        verified, verify_output = audit_verify(self.settings)
        result: dict[str, Any] = {
            "declarations": sum(1 for s in self.sent if not s.reference.startswith(FUZZ_PREFIX)),
            "audit_verified": verified,
            "warehouse_matches": matches,
        }
        failures: list[str] = []
        details = self.details
        details["outputs_read"] = outputs.read()
        details["not_encodable"] = self.not_encodable
        details["warehouse"] = warehouse
        details["audit_verify"] = verify_output
        if outputs.undecodable:
            details["undecodable_outputs"] = dict(outputs.undecodable)
            failures.append(f"{sum(outputs.undecodable.values())} output records do not decode")
        if baseline is not None:
            comparison = compare(baseline.canonical, mine)
            result.update(
                lost=comparison.lost,
                duplicates=comparison.duplicates,
                duplicates_with_new_ticket=comparison.duplicates_with_new_ticket,
            )
            details["comparison"] = comparison.as_dict()
            if mine.new_ticket_examples:
                details["new_ticket_examples"] = mine.new_ticket_examples
            if comparison.underived:
                failures.append(f"{comparison.underived} ids not derived as documented: {mine.underived_examples[:2]}")
            changed = sum(comparison.status_changed.values()) + sum(comparison.status_conflicts.values())
            if changed:
                failures.append(
                    f"{changed} declarations got another outcome than in the baseline, or two outcomes: "
                    f"{list(comparison.status_examples[:3])}"
                )
        if self.fuzz_messages:
            verdict = fuzzing.classify(self.fuzz_messages, self.fuzz_positions, outputs)
            details["fuzz"] = verdict.as_dict()
            details["fuzz"]["messages"] = len(self.fuzz_messages)
            if verdict.missing:
                result["lost"] = result.get("lost", 0) + len(verdict.missing)
                failures.append(f"{len(verdict.missing)} fuzzed messages have no outcome: {verdict.missing[:2]}")
            if verdict.mismatched:
                failures.append(
                    f"{len(verdict.mismatched)} fuzzed messages not handled as the platform's own codec and validation "
                    f"say: {verdict.mismatched[:2]}"
                )
            if verdict.without_reason:
                failures.append(f"{len(verdict.without_reason)} fuzzed messages rejected without a reason")
            suspects = fuzzing.warehouse_range_suspects(self.codec, self.fuzz_messages)
            if suspects:
                details["fuzz"]["accepted_outside_warehouse_datetime"] = suspects
        result["failures"] = failures
        self._outputs = outputs
        self._canonical = mine
        return result

    def teardown(self, keep: bool) -> list[str]:
        stopped = self.supervisor.stop_all()
        self.probe.close()
        if not keep:
            cleanup(self.settings)
            revoke_roles(self.clickhouse_owner, self.settings.clickhouse.database)
        return stopped


# -- faults ---------------------------------------------------------------------------------------------------


@dataclass
class Fault:
    trigger: plan.Trigger
    metric: str  # "worker" (what the worker wrote) or "projector" (what it committed)
    name: str
    action: Callable[[Run], dict[str, Any]]
    fired: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Injector:
    """Fires each fault once its phase's progress reaches its trigger (see `plan.due`); `complete_phase` fires
    what a phase's end left unfired (marked late)."""

    def __init__(self, run: Run, faults: Sequence[Fault], expected: dict[str, list[int]]) -> None:
        self.run = run
        self.faults = sorted(faults, key=lambda f: f.trigger)
        self.expected = expected  # metric -> per-phase progress of the baseline
        self.errors: list[str] = []
        self._force = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-injector", daemon=True)
        self._last: dict[str, int] = {}  # metric -> its absolute value when the previous fault was done

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            pending = [f for f in self.faults if f.fired is None]
            if not pending:
                return
            fault = pending[0]
            phase = self.run.phase
            late = fault.trigger.phase <= self._force or fault.trigger.phase < phase
            fraction = 0.0
            if not late:
                if fault.trigger.phase != phase:
                    continue
                progress = self.run.progress(fault.metric)
                if progress < 0:
                    continue  # the probe did not answer (a broker is down)
                expected = max(1, self.expected[fault.metric][phase])
                fraction = progress / expected
                now = self.run.metric(fault.metric)
                if now is None:
                    continue
                since = (now - self._last.get(fault.metric, -(10**12))) / expected
                if not plan.due(fault.trigger, phase, fraction, since, MIN_STEP):
                    continue
            self._fire(fault, fraction, late)

    def _fire(self, fault: Fault, fraction: float, late: bool) -> None:
        info: dict[str, Any] = {
            "fault": fault.name,
            "phase": plan.PHASES[fault.trigger.phase],
            "trigger": fault.trigger.fraction,
            "at_s": round(time.monotonic() - self.run.began, 1),
            "progress": round(fraction, 3),
            "late": late,
        }
        run = self.run
        if fault.metric == "projector":
            info["projector_lag_at_fault"] = run.probe.lag(run.projector_group, run.projector_topics)
        else:
            info["worker_lag_at_fault"] = run.probe.lag(run.settings.app_id, run.worker_topics)
        try:
            info.update(fault.action(self.run))
        except Exception as exc:  # a fault that could not be injected (or undone) is a failure of the scenario
            info["error"] = f"{type(exc).__name__}: {exc}"
            self.errors.append(f"{fault.name}: {info['error']}\n{traceback.format_exc(limit=3)}")
        now = self.run.metric(fault.metric)
        if now is not None:
            self._last[fault.metric] = now
        fault.fired = info
        fault.done.set()
        log(f"{self.run.name}: {fault.name} in phase {info['phase']} at {fraction:.0%} {info}")

    def has_faults(self, phase: int) -> bool:
        return any(f.trigger.phase == phase for f in self.faults)

    def complete_phase(self, index: int) -> bool:
        """Fire the faults of phases <= index not fired yet; True if any was."""
        waiting = [f for f in self.faults if f.trigger.phase <= index and f.fired is None]
        if not waiting:
            return False
        self._force = index
        for fault in waiting:
            while not fault.done.wait(1.0):
                self.run.check()
        return True

    def finish(self) -> None:
        self.complete_phase(len(plan.PHASES))
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def report(self) -> list[dict[str, Any]]:
        return [f.fired or {"fault": f.name, "fired": False} for f in self.faults]


def kill(name: str, *, hold: bool = False) -> Callable[[Run], dict[str, Any]]:
    def action(run: Run) -> dict[str, Any]:
        # a process restarted a moment ago (by the previous fault) is hit once it runs and has its partitions
        deadline = time.monotonic() + 180
        while run.supervisor.pid(name) is None and time.monotonic() < deadline:
            run.check()
            time.sleep(0.2)
        group = run.projector_group if name == PROJECTOR else run.settings.app_id
        members = 1 if name == PROJECTOR else run.workers
        with contextlib.suppress(Exception):
            wait_members(run.settings, group, members, timeout=120, check=run.check)
        pid = run.supervisor.kill(name, signal.SIGKILL, hold=hold)
        return {"process": name, "pid": pid, "signal": "SIGKILL", "restarted": "at once" if not hold else "at the end"}

    return action


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(FileNotFoundError, IndexError), open(f"/proc/{pid}/stat") as stat:
            if stat.read().split(") ", 1)[1][0] == "Z":
                return
        time.sleep(0.1)


def broker_kill(
    node_id: int | None, down_s: float, *, start_in_background: bool = False
) -> Callable[[Run], dict[str, Any]]:
    """SIGKILL a broker of the run's cluster (`None`: the controller quorum's leader), restart it after
    `down_s` with its data (`KafkaCluster.start_node` waits until the cluster lists it again)."""

    def action(run: Run) -> dict[str, Any]:
        cluster = run.cluster
        victim = node_id if node_id is not None else (cluster.quorum_leader() or 1)
        node = cluster.node(victim)
        pid = node.process.pid()
        if pid is None:
            raise RuntimeError(f"broker {victim} is not running")
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        began = time.monotonic()

        def restart() -> None:
            time.sleep(down_s)
            # the fault is the kill; a restart slowed by log recovery on a busy machine is not the platform's
            cluster.start_node(victim, timeout=BROKER_RESTART_TIMEOUT_S)

        if start_in_background:
            thread = threading.Thread(target=restart, daemon=True)
            thread.start()
            run.details.setdefault("background", []).append(thread)
            return {"broker": victim, "pid": pid, "signal": "SIGKILL", "restart_after_s": down_s}
        restart()
        return {"broker": victim, "pid": pid, "signal": "SIGKILL", "down_s": round(time.monotonic() - began, 1)}

    return action


BROKER_RESTART_TIMEOUT_S = 600.0


def broker_stop(seconds: float) -> Callable[[Run], dict[str, Any]]:
    def action(run: Run) -> dict[str, Any]:
        pid = run.cluster.node(1).process.pid()
        if pid is None:
            raise RuntimeError("the broker is not running")
        os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(pid, signal.SIGCONT)
        return {"broker": 1, "pid": pid, "signal": "SIGSTOP", "stopped_s": seconds}

    return action


def clickhouse_restart(down_s: float) -> Callable[[Run], dict[str, Any]]:
    def action(run: Run) -> dict[str, Any]:
        service = ClickHouseService(run.stack)
        pid = service.process.pid()
        lag = run.metric("projector")
        began = time.monotonic()
        if not service.down():
            raise RuntimeError("the private ClickHouse server was not running")
        stopped = time.monotonic() - began
        time.sleep(down_s)
        service.up()
        return {
            "clickhouse_pid": pid,
            "stopped_in_s": round(stopped, 1),
            "down_s": round(time.monotonic() - began, 1),
            "projector_committed_at_stop": lag,
        }

    return action


# -- the scenarios --------------------------------------------------------------------------------------------


@dataclass
class Context:
    stack: PrivateStack
    workload: Workload
    root: Path
    seed: int
    quick: bool
    fuzz_count: int
    keep: bool
    logs_dir: Path
    pace_s: float = 25.0  # a phase with faults is sent over at least this long
    baseline: Baseline | None = None


def _expected(baseline: Baseline) -> dict[str, list[int]]:
    return {"worker": baseline.written, "projector": baseline.projected}


def run_baseline(ctx: Context) -> tuple[Baseline, dict[str, Any]]:
    """The workload once, without faults: the ids every scenario is compared with, and each phase's progress."""
    run = Run("baseline", ctx.stack.settings, ctx.workload, ctx.root)
    try:
        run.setup()
        run.execute()
        result = run.collect(None)
        summary = {
            "seconds": round(time.monotonic() - run.began, 1),
            "declarations": result["declarations"],
            "audit_verified": result["audit_verified"],
            "warehouse_matches": result["warehouse_matches"],
            "unique_ids": {kind: run._canonical.unique(kind) for kind in run._canonical.ids},
            "duplicates": {kind: run._canonical.duplicates(kind) for kind in run._canonical.ids},
            "new_tickets": dict(run._canonical.new_tickets),
            "underived_ids": dict(run._canonical.underived),
            "id_collisions": dict(run._canonical.collisions),
            "id_collision_examples": run._canonical.collision_examples,
            "status_conflicts": sum(
                1 for statuses in run._canonical.statuses.values() for s in statuses.values() if len(s) > 1
            ),
            "restarts": run.supervisor.restarts,
            "exits": run.supervisor.events,
            "failures": result["failures"],
            "written_per_phase": run.phase_written,
            "projected_per_phase": run.phase_projected,
            **run.details,
        }
        baseline = Baseline(run._canonical, run.phase_written, run.phase_projected, summary)
        return baseline, summary
    finally:
        run.teardown(ctx.keep)


def _run(
    ctx: Context,
    name: str,
    faults: Callable[[Run, random.Random], list[Fault]],
    *,
    workers: int = 1,
    cluster: bool = False,
    fuzz: bool = False,
    after: Callable[[Run], dict[str, Any]] | None = None,
    then: Callable[[Run, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """`after`: once the workload is drained, before the outputs are read; `then`: once they were read and
    compared (it may add to the result: the fuzz scenario's poison probes)."""
    assert ctx.baseline is not None
    rng = random.Random(f"chaos:{ctx.seed}:{name}")
    stack_settings = ctx.stack.settings
    kafka = None
    if cluster:
        stack_settings = ctx.stack.cluster_up()
        kafka = KafkaCluster(stack_settings)
    run = Run(
        name,
        stack_settings,
        ctx.workload,
        ctx.root,
        workers=workers,
        on_cluster=kafka,
        clickhouse_owner=ctx.stack.settings,
    )
    result: dict[str, Any] = {"declarations": 0, "lost": 0, "duplicates": 0, "duplicates_with_new_ticket": 0}
    injector: Injector | None = None
    failures: list[str] = []
    messages: list[fuzzing.FuzzMessage] = []
    try:
        log(f"== {name}: setting up (prefix {run.settings.topic_prefix}, {workers} worker(s))")
        run.setup()
        if fuzz:
            messages = fuzzing.generate(
                rng, ctx.fuzz_count, ctx.workload.fuzz_sources, run.codec, ctx.workload.persons, subject_key
            )
            log(f"{name}: {len(messages)} fuzzed messages generated")
        planned = faults(run, rng)
        injector = Injector(run, planned, _expected(ctx.baseline)) if planned else None
        run.execute(injector, messages or None, pace_s=ctx.pace_s)
        if after is not None:
            run.details.update(after(run))
        for thread in run.details.pop("background", []):
            thread.join(300)
        run.drain_all(600)
        result.update(run.collect(ctx.baseline))
        failures.extend(result.pop("failures"))
        run.details["restarts_during_workload"] = run.supervisor.restarts
        if fuzz and run.supervisor.restarts:
            failures.append(f"the worker or projector exited {run.supervisor.restarts} time(s) under fuzz (must be 0)")
        if then is not None:
            then(run, result)
            failures.extend(result.pop("failures", []))
    except SupervisionFailed as exc:
        failures.append(str(exc).splitlines()[0])
        run.details["gave_up"] = str(exc)
    except Exception as exc:
        failures.append(f"the scenario did not complete: {type(exc).__name__}: {exc}")
        run.details["error"] = traceback.format_exc()
        log(f"{name}: ERROR {exc}")
    finally:
        if injector is not None:
            injector._stop.set()
            run.details["faults"] = injector.report()
            failures.extend(f"fault not injected: {e.splitlines()[0]}" for e in injector.errors)
        failures.extend(
            f"given up: {g.splitlines()[0]}"
            for g in run.supervisor.given_up()
            if g.splitlines()[0] not in str(failures)
        )
        run.details["exits"] = run.supervisor.events
        run.details["restarts_per_process"] = {n: p.restarts for n, p in run.supervisor.processes.items()}
        run.details["unexpected_exits"] = run.supervisor.unexpected_exits
        result["restarts"] = run.supervisor.restarts
        result["faults"] = sum(1 for f in run.details.get("faults", []) if f.get("fired", True) is not False)
        # under fuzz, each fuzzed message and each poison probe sent is a fault
        result["faults"] += len(messages) + len(run.details.get("probes", []))
        result["seconds"] = round(time.monotonic() - run.began, 1)
        if failures or run.supervisor.unexpected_exits:
            run.details["logs"] = copy_logs(run.logs(), ctx.logs_dir / name)
        run.teardown(ctx.keep)
        if cluster:
            ctx.stack.cluster_down()
        result["failures"] = failures
        result["details"] = run.details
        result.setdefault("audit_verified", False)
        result.setdefault("warehouse_matches", False)
    return result


def _worker_kills(run: Run, rng: random.Random, ctx: Context) -> list[Fault]:
    assert ctx.baseline is not None
    triggers = plan.schedule(rng, 10, ctx.baseline.written)
    return [Fault(t, "worker", f"SIGKILL worker #{i + 1}", kill(WORKER)) for i, t in enumerate(triggers)]


def scenario_control(ctx: Context) -> dict[str, Any]:
    return _run(ctx, "control-no-faults", lambda run, rng: [])


def scenario_worker_sigkill(ctx: Context) -> dict[str, Any]:
    return _run(ctx, "worker-sigkill-x10", lambda run, rng: _worker_kills(run, rng, ctx))


def scenario_rebalance(ctx: Context) -> dict[str, Any]:
    def faults(run: Run, rng: random.Random) -> list[Fault]:
        trigger = plan.Trigger(0, round(rng.uniform(0.25, 0.6), 3))
        return [Fault(trigger, "worker", "SIGKILL worker-b (not restarted until the end)", kill(WORKER_B, hold=True))]

    def after(run: Run) -> dict[str, Any]:
        # the survivor drained everything alone; now the second worker comes back and the group rebalances
        began = time.monotonic()
        run.supervisor.release(WORKER_B)
        wait_members(run.settings, run.settings.app_id, 2, timeout=180, check=run.check)
        return {"rejoined_in_s": round(time.monotonic() - began, 1)}

    return _run(ctx, "rebalance-two-workers", faults, workers=2, after=after)


def scenario_projector_sigkill(ctx: Context) -> dict[str, Any]:
    def faults(run: Run, rng: random.Random) -> list[Fault]:
        assert ctx.baseline is not None
        weights = [w if w > 0 else 0 for w in ctx.baseline.projected]
        triggers = plan.schedule(rng, 3, weights, low=0.1, high=0.8)
        return [Fault(t, "projector", f"SIGKILL projector #{i + 1}", kill(PROJECTOR)) for i, t in enumerate(triggers)]

    return _run(ctx, "projector-sigkill", faults)


def scenario_broker_sigkill(ctx: Context) -> dict[str, Any]:
    def faults(run: Run, rng: random.Random) -> list[Fault]:
        trigger = plan.Trigger(0, round(rng.uniform(0.2, 0.6), 3))
        return [Fault(trigger, "worker", "SIGKILL the broker, restart after 5 s", broker_kill(1, 5.0))]

    return _run(ctx, "broker-sigkill", faults)


def scenario_broker_sigstop(ctx: Context) -> dict[str, Any]:
    def faults(run: Run, rng: random.Random) -> list[Fault]:
        trigger = plan.Trigger(0, round(rng.uniform(0.2, 0.6), 3))
        return [Fault(trigger, "worker", "SIGSTOP the broker for 20 s", broker_stop(20.0))]

    return _run(ctx, "broker-sigstop-20s", faults)


def scenario_clickhouse_restart(ctx: Context) -> dict[str, Any]:
    def faults(run: Run, rng: random.Random) -> list[Fault]:
        trigger = plan.Trigger(0, round(rng.uniform(0.2, 0.6), 3))
        return [Fault(trigger, "projector", "stop ClickHouse, start it again after 5 s", clickhouse_restart(5.0))]

    return _run(ctx, "clickhouse-restart", faults)


def scenario_cluster_node_kill(ctx: Context) -> dict[str, Any]:
    def faults(run: Run, rng: random.Random) -> list[Fault]:
        trigger = plan.Trigger(0, round(rng.uniform(0.2, 0.6), 3))
        return [
            Fault(
                trigger,
                "worker",
                "SIGKILL the quorum leader of 3 brokers, restart it after 30 s",
                broker_kill(None, 30.0, start_in_background=True),
            )
        ]

    return _run(ctx, "cluster-3-brokers-node-kill", faults, cluster=True)


def scenario_fuzz(ctx: Context) -> dict[str, Any]:
    def then(run: Run, result: dict[str, Any]) -> None:
        # the 10,000 were read and compared: now the poison probes, one at a time, on a platform that works
        if run._projector_given_up() or any(e["process"] == PROJECTOR for e in run.supervisor.events):
            run.details["remedy_before_probes"] = _skip_projector_to_end(run)
        before = run.supervisor.restarts
        probes = run_probes(run, ctx)
        run.details["probes"] = probes
        run.details["restarts_during_probes"] = run.supervisor.restarts - before
        result["failures"] = [
            f"probe {p['probe']} ({p['position']}): {p['verdict']}" for p in probes if p.get("verdict") != "ok"
        ]

    return _run(ctx, "fuzz-10000", lambda run, rng: [], fuzz=True, then=then)


# -- poison probes: single messages that may stop a process for good --------------------------------------------


# where each probe must land: a fact whose recorded_at ClickHouse cannot hold is still accepted (and stored as
# the nearest DateTime), the oversized declaration is rejected, the null value is dead-lettered
PROBE_OUTCOMES = {"recorded_at_1950": "accepted", "oversized_outcome": "rejected", "null_value": "dead_letter"}


def _probe_messages(ctx: Context) -> list[tuple[str, str, str | None, dict[str, Any] | None, str]]:
    """(name, intake family, schema, record or None for a null value, what it tests), from the fuzz sources."""
    import copy
    import datetime as dt

    from streams.synthetic.numbers import niss as synthetic_niss

    sources = ctx.workload.fuzz_sources
    dimona = next(r for s, r in sources if s == fuzzing.DIMONA_IN)
    address = next(r for s, r in sources if s == fuzzing.ADDRESS_CHANGE)
    old = copy.deepcopy(dimona)
    old["envelope"]["sender_reference"] = "PROBE-recorded-1950"
    # a worker of its own: the workload's DIMONA IN for the source's worker is a fact, and the same relation
    # declared again is refused by the directory (dimona.duplicate_in), not accepted as the probe needs
    old["worker"] = synthetic_niss(dt.date(1950, 1, 1), 997)
    old["envelope"]["recorded_at"] = dt.datetime(1950, 1, 1, tzinfo=dt.UTC)  # inside validation's 1900..2099
    big = copy.deepcopy(address)
    big["envelope"]["sender_reference"] = "R" * 600_000  # rejected (> 100 characters), 600 kB
    return [
        (
            "recorded_at_1950",
            "dimona",
            fuzzing.DIMONA_IN,
            old,
            "a valid DIMONA IN recorded in 1950 (validation allows "
            "1900..2099): does the projector take a DateTime before 1970?",
        ),
        (
            "oversized_outcome",
            "civil",
            fuzzing.ADDRESS_CHANGE,
            big,
            "an address change whose 600 kB sender reference is "
            "refused: its rejection (reference + declaration bytes) is over the 1 MB message limit",
        ),
        ("null_value", "civil", None, None, "a record with a null value (a tombstone) on an intake topic"),
    ]


def run_probes(run: Run, ctx: Context) -> list[dict[str, Any]]:
    """Each probe alone, once the fuzz was read: sent, then drained (worker, projector) while watching for crash
    loops. A probe that stops a process for good is recorded with the evidence (the exact value, where it landed,
    how the process ended and why); the harness then skips it as an operator would (the stuck group's offset
    moved past it) so that the next probe can run."""
    results = []
    for name, family, schema, record, what in _probe_messages(ctx):
        entry: dict[str, Any] = {"probe": name, "what": what}
        value = run.codec.encode(schema, record) if schema and record is not None else None
        key = subject_key(schema, record) if schema and record is not None else None
        entry["schema"] = schema
        entry["record"] = _printable(record)
        entry["value"] = None if value is None else _hex(value)
        entry["bytes"] = None if value is None else len(value)
        producer = TrackedProducer(run.settings, run.codec)
        producer.send_raw(name, producer.topic(family), key.encode() if key else None, value)
        producer.flush(120)
        topic, partition, offset = producer.positions[name]
        entry["position"] = f"{topic}[{partition}]@{offset}"
        exits_before = len(run.supervisor.events)
        began = time.monotonic()
        try:
            run.drain_all(240)
            entry["verdict"] = "ok"
        except Exception as exc:
            entry["verdict"] = f"stuck: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        crashed = [e for e in run.supervisor.events[exits_before:] if e["cause"] == "crash"]
        if crashed:
            first = crashed[0]
            entry["verdict"] = f"{first['process']} crash loop ({len(crashed)} exits, {first['exit_status']})"
            entry["exits"] = len(crashed)
            entry["crash"] = {
                "process": first["process"],
                "exit_status": first["exit_status"],
                "reason": first.get("reason"),
            }
        if run._projector_given_up() and entry["verdict"] == "ok":
            entry["verdict"] = "the projector was given up on"
        entry["seconds"] = round(time.monotonic() - began, 1)
        outputs = read_outputs(run.settings, run.codec)
        ticket = Sent(name, topic, partition, offset).ticket
        dead = any((d.topic, d.partition, d.offset) == (topic, partition, offset) for d in outputs.dead_letters)
        rejected = any(r.ticket == ticket for r in outputs.rejections)
        accepted = any(f.ticket == ticket for f in outputs.facts) or any(a.ticket == ticket for a in outputs.acks)
        entry["outcome"] = "dead_letter" if dead else "rejected" if rejected else "accepted" if accepted else "none"
        entry["expected"] = PROBE_OUTCOMES[name]
        if entry["verdict"] == "ok" and entry["outcome"] != entry["expected"]:
            entry["verdict"] = f"landed as {entry['outcome']}, expected {entry['expected']}"
        if entry["verdict"] != "ok":
            stuck = {e["process"] for e in crashed} | {n for n, p in run.supervisor.processes.items() if p.gave_up}
            entry["remedy"] = _skip_poison(run, stuck, topic, partition, offset)
        results.append(entry)
        log(f"{run.name}: probe {name}: {entry['verdict']} (outcome {entry['outcome']})")
    return results


def _hex(value: bytes, limit: int = 512) -> str:
    return value.hex() if len(value) <= limit else f"{value[:64].hex()}... ({len(value)} bytes)"


def _printable(value: Any) -> Any:
    """A record as JSON can show it: dates as ISO text, long strings cut (with their length)."""
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:20]}... ({len(value)} characters)"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _skip_poison(run: Run, stuck: set[str], topic: str, partition: int, offset: int) -> str:
    """Stop whoever is stuck, move its group past the poison (the projector: to the end of the facts topic the
    poison became), start it again, drain."""
    notes = []
    sup = run.supervisor
    try:
        if any(name.startswith("worker") for name in stuck):
            sup.hold(WORKER)
            sup.processes[WORKER].process.stop(timeout=30)
            wait_members(run.settings, run.settings.app_id, 0, timeout=60, check=lambda: None)
            skip_offset(run.settings, run.settings.app_id, topic, partition, offset + 1)
            _revive(sup, WORKER)
            notes.append(f"worker group moved past {topic}[{partition}]@{offset}")
        if PROJECTOR in stuck:
            sup.hold(PROJECTOR)
            sup.processes[PROJECTOR].process.stop(timeout=30)
            wait_members(run.settings, run.projector_group, 0, timeout=60, check=lambda: None)
            family = topic.split(".intake.", 1)[1].rsplit(".v", 1)[0]
            facts_topic = f"{run.settings.topic_prefix}.facts.{family}.v1"
            for p, end in _end_offsets(run, facts_topic).items():
                skip_offset(run.settings, run.projector_group, facts_topic, p, end)
            _revive(sup, PROJECTOR)
            notes.append(f"projector group moved to the end of {facts_topic}")
        run.drain_all(240)
        notes.append("drained again")
    except Exception as exc:
        notes.append(f"could not recover: {type(exc).__name__}: {exc}")
    return "; ".join(notes)


def _skip_projector_to_end(run: Run) -> str:
    """What an operator does with a projector stuck on a poison fact it cannot insert: stop it, move its group to
    the end of every topic it reads (what was not projected stays unprojected: measured before this), start it."""
    sup = run.supervisor
    try:
        sup.hold(PROJECTOR)
        sup.processes[PROJECTOR].process.stop(timeout=30)
        wait_members(run.settings, run.projector_group, 0, timeout=60, check=lambda: None)
        for topic in run.projector_topics:
            for p, end in _end_offsets(run, topic).items():
                skip_offset(run.settings, run.projector_group, topic, p, end)
        _revive(sup, PROJECTOR)
        wait_members(run.settings, run.projector_group, 1, timeout=120, check=lambda: None)
        return f"projector group moved to the end of {', '.join(run.projector_topics)}; restarted"
    except Exception as exc:
        return f"could not recover the projector: {type(exc).__name__}: {exc}"


def _revive(sup: Supervisor, name: str) -> None:
    process = sup.processes[name]
    process.gave_up = None
    process.fruitless = 0
    sup.release(name)


def _end_offsets(run: Run, topic: str) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**client_config(run.settings), "group.id": "chaos-ends", "log_level": 0})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in meta.partitions}
    finally:
        consumer.close()


SCENARIOS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "control-no-faults": scenario_control,
    "worker-sigkill-x10": scenario_worker_sigkill,
    "rebalance-two-workers": scenario_rebalance,
    "projector-sigkill": scenario_projector_sigkill,
    "broker-sigkill": scenario_broker_sigkill,
    "broker-sigstop-20s": scenario_broker_sigstop,
    "clickhouse-restart": scenario_clickhouse_restart,
    "cluster-3-brokers-node-kill": scenario_cluster_node_kill,
    "fuzz-10000": scenario_fuzz,
}

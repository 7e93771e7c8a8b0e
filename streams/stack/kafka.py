"""Apache Kafka in KRaft mode, from the official jars on Maven Central: one node, or a cluster of several.

No Docker and no tarball download: Maven resolves `kafka_2.13` and its dependencies (deploy/kafka/pom.xml)
into a per-version cache directory, and the machine's Java runs `kafka.Kafka` on that classpath.

Every node is a combined broker+controller and a voter of the controller quorum. One node keeps the layout the
stack always had (<state_dir>/kafka/{server.properties, data/, server.log, kafka.pid}); a cluster of N puts
each node under <state_dir>/kafka/node-<id>/ with the same files. Node i listens on the i-th address of
`settings.kafka_bootstrap` and its controller on `kafka_controller_port + 2(i-1)` (streams/settings.py derives
the bootstrap list from the broker count). All nodes share one cluster id, <state_dir>/kafka/cluster.id.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from streams.access import BROKER, OPERATOR
from streams.domain.credentials import derived_password
from streams.kafka.security import client_config
from streams.settings import LOCAL_PORT_STEP, PROJECT_ROOT, Settings
from streams.stack.errors import InstallError, StartError
from streams.stack.packages import apt_install
from streams.stack.process import ManagedProcess, port_open
from streams.stack.service import ServiceStatus
from streams.stack.tls import TlsFiles, ensure_certificates

POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
READY_TIMEOUT_S = 90.0
# each further node adds a JVM competing for the same cores during start-up
READY_TIMEOUT_PER_EXTRA_NODE_S = 30.0
STOP_TIMEOUT_S = 60.0
# where KRaft persists each voter's view of the election (leader id and epoch), in the metadata log directory
QUORUM_STATE = Path("__cluster_metadata-0") / "quorum-state"
API_VERSIONS = 18  # the Kafka protocol's ApiVersions request, the first any client sends
CORRELATION_ID = 0x0C0550AD


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker+controller: its id, its two ports, its files and its process."""

    node_id: int
    host: str
    port: int
    controller_port: int
    home: Path
    process: ManagedProcess

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def voter(self) -> str:
        return f"{self.node_id}@{self.host}:{self.controller_port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").exists()


def node_home(kafka_home: Path, node_id: int, nodes: int) -> Path:
    # one node keeps the historical layout, so a stack started before clusters existed is still recognised
    return kafka_home if nodes == 1 else kafka_home / f"node-{node_id}"


def plan_nodes(settings: Settings) -> tuple[KafkaNode, ...]:
    """The nodes the settings describe (pure: nothing is checked, written or started)."""
    kafka_home = settings.state_dir / "kafka"
    nodes = settings.kafka_brokers
    planned = []
    for index, (host, port) in enumerate(settings.kafka_addresses[:nodes]):
        node_id = index + 1
        home = node_home(kafka_home, node_id, nodes)
        name = "kafka" if nodes == 1 else f"kafka-{node_id}"
        planned.append(
            KafkaNode(
                node_id=node_id,
                host=host,
                port=port,
                controller_port=settings.kafka_controller_port + LOCAL_PORT_STEP * index,
                home=home,
                process=ManagedProcess(name=name, pid_file=home / "kafka.pid", log_file=home / "server.log"),
            )
        )
    return tuple(planned)


def check_ports(nodes: Sequence[KafkaNode]) -> None:
    """Raise StartError if two listeners of the planned nodes would share a port."""
    seen: dict[tuple[str, int], str] = {}
    for node in nodes:
        for role, port in (("broker", node.port), ("controller", node.controller_port)):
            where = f"node {node.node_id}'s {role}"
            if (node.host, port) in seen:
                raise StartError(
                    f"{where} and {seen[(node.host, port)]} would both listen on {node.host}:{port}: choose "
                    "CROSSROADS_KAFKA_BOOTSTRAP and CROSSROADS_KAFKA_CONTROLLER_PORT so that they do not overlap"
                )
            seen[(node.host, port)] = where


def initial_heap(heap: str) -> str | None:
    """-Xms for a -Xmx of `heap`: 256m, or the heap itself when smaller (the JVM refuses Xms > Xmx)."""
    match = re.fullmatch(r"(\d+)([kmg]?)", heap.strip().lower())
    if match is None:
        return None  # let the JVM judge -Xmx; no -Xms then
    size = int(match[1]) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match[2]]
    return "256m" if size >= 256 << 20 else heap


def quorum_leader_of(states: dict[int, tuple[int, int]], voters: int) -> int | None:
    """The controller leader, from the (leader id, epoch) that each live voter persisted: the newest epoch's
    leader, if it is live itself, claims that epoch, and a majority of the voters agree (a voter that is
    stopped but alive still shows an old epoch, a campaigning one a leader of -1)."""
    if not states:
        return None
    leader, epoch = max(states.values(), key=lambda state: state[1])
    if leader < 0 or states.get(leader) != (leader, epoch):
        return None
    agreeing = sum(1 for state in states.values() if state == (leader, epoch))
    return leader if agreeing * 2 > voters else None


def running_brokers(state_dir: Path) -> int | None:
    """How many nodes the Kafka of ours running in `state_dir` has (a node may be down), None if none runs.

    Lets `stack status` and `stack down` recognise a cluster whatever CROSSROADS_KAFKA_BROKERS says now."""
    kafka_home = state_dir / "kafka"
    single = ManagedProcess("kafka", kafka_home / "kafka.pid", kafka_home / "server.log")
    if single.pid() is not None:
        return 1
    homes = sorted(kafka_home.glob("node-*/server.properties"))
    if any(_process_in(home.parent).pid() is not None for home in homes):
        return len(homes)
    return None


def found_brokers(state_dir: Path) -> int | None:
    """The node count of the Kafka of ours in `state_dir`: the running one, else the only one with data there
    (the single node's and a cluster's data may both exist: then None, the settings decide)."""
    running = running_brokers(state_dir)
    if running is not None:
        return running
    kafka_home = state_dir / "kafka"
    record = kafka_home / "cluster.nodes"
    if record.exists() and not (kafka_home / "data" / "meta.properties").exists():
        try:
            return int(record.read_text().strip())
        except ValueError:
            return None
    return None


def serves_requests(host: str, port: int, timeout: float = 1.0, tls: ssl.SSLContext | None = None) -> bool:
    """Whether a Kafka broker answers an ApiVersions request on host:port.

    Neither an open port nor the metadata tells that a (re)started node is up: its listener is bound early in
    start-up but takes requests only once the node has caught up with the cluster's metadata, and the metadata
    keeps listing a killed node until its session times out. Any well-formed answer to our correlation id will
    do (even "unsupported version"): it shows the node processes requests. On the secured listener the request
    goes over TLS (`tls`); Kafka answers ApiVersions before SASL authentication."""
    client_id = b"crossroads-stack"
    request = struct.pack(">hhih", API_VERSIONS, 0, CORRELATION_ID, len(client_id)) + client_id
    try:
        with contextlib.ExitStack() as closing:
            sock = closing.enter_context(socket.create_connection((host, port), timeout=timeout))
            if tls is not None:
                sock = closing.enter_context(tls.wrap_socket(sock, server_hostname=host))
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(request)) + request)
            answer = b""
            while len(answer) < 8:  # size, correlation id
                chunk = sock.recv(8 - len(answer))
                if not chunk:
                    return False
                answer += chunk
    except OSError:
        return False
    _, correlation = struct.unpack(">ii", answer)
    return bool(correlation == CORRELATION_ID)


def _process_in(home: Path) -> ManagedProcess:
    return ManagedProcess(f"kafka {home.name}", home / "kafka.pid", home / "server.log")


class KafkaCluster:
    """The local Kafka: `settings.kafka_brokers` nodes. `nodes` gives each node's ManagedProcess, so that a test
    can signal one (SIGKILL, SIGSTOP) and bring it back with `start_node`."""

    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.home = settings.state_dir / "kafka"
        self.jars = settings.state_dir / "cache" / f"kafka-{settings.kafka_version}"
        self.nodes = plan_nodes(settings)

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def process(self) -> ManagedProcess:
        """The first node's process (the only one of a single-node stack)."""
        return self.nodes[0].process

    @property
    def data_dir(self) -> Path:
        return self.nodes[0].data_dir

    def node(self, node_id: int) -> KafkaNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"no Kafka node {node_id} (nodes {', '.join(str(n.node_id) for n in self.nodes)})")

    # -- install -------------------------------------------------------------------------------------------

    def install(self) -> None:
        """Resolve the broker's jars into the cache once per Kafka version."""
        marker = self.jars / ".complete"
        if marker.exists():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            apt_install("maven")
            mvn = shutil.which("mvn")
            if mvn is None:
                raise InstallError("Maven is required to resolve the Kafka jars and could not be installed")
        self.jars.mkdir(parents=True, exist_ok=True)
        cmd = [
            mvn, "-B", "-q", "-f", str(POM),
            f"-Dkafka.version={self._settings.kafka_version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={self.jars}",
            "-DincludeScope=runtime",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise InstallError(f"Maven could not resolve Kafka {self._settings.kafka_version}:\n{tail}")
        marker.write_text(self._settings.kafka_version + "\n")

    def java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        candidate = Path(java_home) / "bin" / "java" if java_home else None
        if candidate and candidate.exists():
            return str(candidate)
        found = shutil.which("java")
        if found is None:
            raise InstallError("Java 17+ is required to run the Kafka broker (install a JDK or set JAVA_HOME)")
        return found

    # -- configuration -------------------------------------------------------------------------------------

    def _render(self, template: str, target: Path, **values: object) -> Path:
        text = resources.files("streams.stack").joinpath("templates", template).read_text()
        target.write_text(text.format(**values))
        return target

    def configure_node(self, node: KafkaNode) -> Path:
        node.home.mkdir(parents=True, exist_ok=True)
        self._render("kafka-log4j2.properties", node.log4j_config, log_file=node.process.log_file)
        return self._render(
            "kafka-server.properties",
            node.config,
            listener="CLIENT",
            security=self._security_properties(),
            node_id=node.node_id,
            nodes=len(self.nodes),
            voters=",".join(n.voter for n in self.nodes),
            host=node.host,
            port=node.port,
            controller_port=node.controller_port,
            log_dirs=node.data_dir,
            partitions=self._settings.default_partitions,
            replication=self._settings.replication_factor,
            min_isr=self._settings.kafka_min_insync_replicas,
        )

    @property
    def secured(self) -> bool:
        return self._settings.kafka_security == "sasl_ssl"

    @property
    def tls(self) -> TlsFiles:
        return TlsFiles(self._settings.state_dir / "tls")

    def _password(self, principal: str) -> str:
        return derived_password(self._settings.access_secret.get_secret_value(), principal)

    def _security_properties(self) -> str:
        mode = self._settings.kafka_security
        text = resources.files("streams.stack").joinpath("templates", f"kafka-security-{mode}.properties").read_text()
        if not self.secured:
            return text
        return text.format(
            broker_password=self._password(BROKER),
            broker_pem=self.tls.broker_pem,
            ca_cert=self.tls.ca_cert,
            operator=OPERATOR,
        )

    def _client_tls(self) -> ssl.SSLContext | None:
        if not self.secured:
            return None
        context = ssl.create_default_context(cafile=str(self.tls.ca_cert))
        return context

    def configure(self) -> Path:
        """Write every node's configuration; returns the first node's server.properties."""
        if self.secured:
            ensure_certificates(self.tls.directory, {node.host for node in self.nodes})
        paths = [self.configure_node(node) for node in self.nodes]
        return paths[0]

    def cluster_id(self) -> str:
        """Chosen once and kept, so the storage formatted with it stays valid across down/up."""
        path = self.home / "cluster.id"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: "-…" would read as a CLI option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            path.write_text(cluster_id + "\n")
        return path.read_text().strip()

    def _format_storage(self, nodes: Sequence[KafkaNode]) -> None:
        """Format the nodes not formatted yet, all with the one cluster id, in parallel (a JVM each)."""
        pending = [node for node in nodes if not node.formatted]
        if not pending:
            return
        cluster_id = self.cluster_id()
        # the brokers' and the operator's SCRAM credentials exist from the first start: nobody could create
        # them later, since every request needs an authenticated super user
        scram = (
            [
                f"--add-scram=SCRAM-SHA-512=[name={principal},password={self._password(principal)}]"
                for principal in (BROKER, OPERATOR)
            ]
            if self.secured
            else []
        )
        runs = [
            (
                node,
                subprocess.Popen(
                    [
                        *self._java_argv(node),
                        "kafka.tools.StorageTool",
                        "format",
                        f"--cluster-id={cluster_id}",
                        *scram,
                        "-c",
                        str(node.config),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ),
            )
            for node in pending
        ]
        failures = []
        for node, run in runs:
            output, _ = run.communicate()
            if run.returncode != 0:
                failures.append(f"formatting Kafka storage in {node.data_dir} failed:\n{output}")
        if failures:
            raise StartError("\n".join(failures))
        for node in pending:
            (node.home / "security.mode").write_text(self._settings.kafka_security + "\n")

    def _check_security_mode(self) -> None:
        """Storage formatted for one security mode cannot serve another: its SCRAM credentials are made at
        format time (a stack formatted before the secured stack existed has none)."""
        for node in self.nodes:
            if not node.formatted:
                continue
            record = node.home / "security.mode"
            formatted = record.read_text().strip() if record.exists() else "plaintext"
            if formatted != self._settings.kafka_security:
                raise StartError(
                    f"the Kafka data in {node.data_dir} was formatted for a {formatted} stack, but "
                    f"CROSSROADS_KAFKA_SECURITY is {self._settings.kafka_security}: remove {self.home} (its topics"
                    " are lost) to re-create it, or use another CROSSROADS_STATE_DIR"
                )

    def _check_cluster_size(self) -> None:
        # the voters are fixed when the storage is formatted: a cluster's data cannot silently change size
        if len(self.nodes) == 1:
            return
        record = self.home / "cluster.nodes"
        if record.exists():
            recorded = int(record.read_text().strip())
            if recorded != len(self.nodes):
                raise StartError(
                    f"{self.home} holds a {recorded}-node cluster; start it with --brokers {recorded}, or remove "
                    f"{self.home}/node-* to make a {len(self.nodes)}-node one"
                )
        else:
            self.home.mkdir(parents=True, exist_ok=True)
            record.write_text(f"{len(self.nodes)}\n")

    def _java_argv(self, node: KafkaNode) -> list[str]:
        heap = self._settings.kafka_heap
        xms = initial_heap(heap)
        return [
            self.java(),
            *([f"-Xms{xms}"] if xms else []), f"-Xmx{heap}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={node.log4j_config}",
            "-cp", f"{self.jars}/*",
        ]  # fmt: skip

    # -- lifecycle -----------------------------------------------------------------------------------------

    def _check_no_other_layout(self) -> None:
        """One Kafka of ours per state directory: the single node and a cluster's node 1 share their ports."""
        mine = {node.process.pid_file for node in self.nodes}
        for process in self._processes_on_disk():
            if process.pid_file not in mine and process.pid() is not None:
                brokers = running_brokers(self._settings.state_dir)
                raise StartError(
                    f"a {brokers}-node Kafka of this stack is running ({process.pid_file}): run "
                    f"`crossroads stack down` first, or use --brokers {brokers}"
                )

    def _processes_on_disk(self) -> list[ManagedProcess]:
        """Every Kafka pid file under the stack's kafka directory, whichever layout wrote it."""
        homes = [self.home, *sorted(p.parent for p in self.home.glob("node-*/kafka.pid"))]
        return [_process_in(home) for home in homes if (home / "kafka.pid").exists()]

    def up(self) -> bool:
        """Start the nodes that are not running and wait until the whole cluster is ready. True if this call
        started a node."""
        check_ports(self.nodes)
        self._check_no_other_layout()
        missing = [node for node in self.nodes if node.process.pid() is None]
        if not missing:
            self.wait_ready()
            return False
        if len(missing) == len(self.nodes) and all(port_open(n.host, n.port) for n in self.nodes):
            # somebody else's Kafka (or a stack started from another checkout): use it, never fight it
            return False
        taken = [
            f"{node.host}:{port}"
            for node in missing
            for port in (node.port, node.controller_port)
            if port_open(node.host, port)
        ]
        if taken:
            raise StartError(f"cannot start Kafka: something else listens on {', '.join(taken)}")
        self._check_cluster_size()
        self._check_security_mode()
        self.install()
        self.configure()
        self._format_storage(self.nodes)
        for node in missing:
            self._launch(node)
        self.wait_ready()
        return True

    def start_node(self, node_id: int, *, wait: bool = True, timeout: float = READY_TIMEOUT_S) -> bool:
        """(Re)start one node that is down, with the data it has; with `wait`, until the cluster lists it
        again (at most `timeout` s: a node SIGKILLed recovers its logs first, longer on a busy machine). False if
        it was running (alive: a SIGSTOPped node needs SIGCONT, not a second process)."""
        node = self.node(node_id)
        if node.process.pid() is not None:
            return False
        check_ports(self.nodes)
        self._check_no_other_layout()
        taken = [port for port in (node.port, node.controller_port) if port_open(node.host, port)]
        if taken:
            raise StartError(f"cannot start Kafka node {node_id}: something else listens on {taken}")
        self.install()
        self.configure_node(node)
        self._format_storage([node])
        self._launch(node)
        if wait:
            self._wait(
                lambda: self.serves(node) and node_id in (self.registered() or set()),
                nodes=[node],
                what=f"Kafka node {node_id}",
                timeout=timeout,
            )
        return True

    def stop_node(self, node_id: int, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop one node gracefully (SIGTERM: controlled shutdown, leadership handed over). True if it ran."""
        return self.node(node_id).process.stop(timeout=timeout)

    def _launch(self, node: KafkaNode) -> int:
        return node.process.start([*self._java_argv(node), "kafka.Kafka", str(node.config)], cwd=node.home)

    def down(self) -> bool:
        """Stop every node of ours, in parallel (a quorum stopping one node at a time loses its majority while
        the last ones still wait for it), whichever node count wrote their pid files. True if any ran."""
        processes = {p.pid_file: p for p in (*(n.process for n in self.nodes), *self._processes_on_disk())}
        running = [p for p in processes.values() if p.pid() is not None]
        if not running:
            return False
        for process in running:
            pid = process.pid()
            if pid is not None:
                # a node a test froze (SIGSTOP) would hold SIGTERM until SIGCONT: the full timeout, then SIGKILL
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(lambda p: p.stop(timeout=STOP_TIMEOUT_S), running))
        return True

    # -- readiness -----------------------------------------------------------------------------------------

    def registered(self, timeout: float = 3.0) -> set[int] | None:
        """The ids of the brokers the cluster's metadata lists (registered, not fenced); None if no broker
        answers."""
        if not any(port_open(node.host, node.port) for node in self.nodes):
            return None
        from confluent_kafka.admin import AdminClient  # imported late: `stack status` should not need it

        admin = AdminClient({**client_config(self._settings), "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=timeout)
        except Exception:
            return None
        return set(metadata.brokers)

    def serves(self, node: KafkaNode) -> bool:
        """Whether the node itself serves requests: it is caught up with the cluster's metadata."""
        return serves_requests(node.host, node.port, tls=self._client_tls())

    def ready(self) -> bool:
        """Every node serves requests and the metadata lists every node as a registered broker."""
        if not all(self.serves(node) for node in self.nodes):
            return False
        brokers = self.registered()
        return brokers is not None and {node.node_id for node in self.nodes} <= brokers

    def quorum_leader(self) -> int | None:
        """The node id of the controller quorum's leader, from the election state each live node of ours
        persisted (no JVM needed to ask); None while there is none or no node of ours runs."""
        states = {}
        for node in self.nodes:
            if node.process.pid() is None:
                continue  # a dead node's file still names the leader it last knew
            try:
                state = json.loads((node.data_dir / QUORUM_STATE).read_text())
                states[node.node_id] = (int(state["leaderId"]), int(state["leaderEpoch"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return quorum_leader_of(states, voters=len(self.nodes))

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until every node runs and is registered and the controller quorum has a leader."""
        if timeout is None:
            timeout = READY_TIMEOUT_S + READY_TIMEOUT_PER_EXTRA_NODE_S * (len(self.nodes) - 1)
        what = "Kafka broker" if len(self.nodes) == 1 else f"Kafka cluster of {len(self.nodes)} nodes"
        self._wait(lambda: self.ready() and self.quorum_leader() is not None, self.nodes, what, timeout)

    def _wait(self, ready: Callable[[], bool], nodes: Sequence[KafkaNode], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            for node in nodes:
                if node.process.pid() is None:
                    raise StartError(
                        f"{what}: node {node.node_id} exited during start-up; last lines of "
                        f"{node.process.log_file}:\n{node.process.log_tail()}"
                    )
            time.sleep(0.5)
        tails = "\n".join(f"{n.process.log_file}:\n{n.process.log_tail(10)}" for n in nodes)
        raise StartError(f"{what} not ready after {timeout:.0f}s; last lines of the logs:\n{tails}")

    # -- status --------------------------------------------------------------------------------------------

    def version(self) -> str | None:
        jars = sorted(self.jars.glob("kafka_2.13-*.jar"))
        return jars[0].stem.removeprefix("kafka_2.13-") if jars else None

    def status(self) -> ServiceStatus:
        return self.statuses()[0]

    def statuses(self) -> list[ServiceStatus]:
        """The cluster, then (for more than one node) each node: its pid, ports, whether it is registered, and
        which one leads the controller quorum."""
        pids = [node.process.pid() for node in self.nodes]
        ours = any(pid is not None for pid in pids)
        registered = self.registered() or set()
        running = all(port_open(n.host, n.port) for n in self.nodes) and len(registered) >= len(self.nodes)
        version = self.version() if ours else ("external" if running else None)
        if len(self.nodes) == 1:
            node = self.nodes[0]
            return [
                ServiceStatus(
                    name=self.name,
                    running=running,
                    version=version,
                    pid=pids[0],
                    ports={"broker": node.port, "controller": node.controller_port},
                    data_dir=node.data_dir,
                    log_file=node.process.log_file,
                    ours=ours or not running,
                )
            ]
        leader = self.quorum_leader()
        # the metadata still lists a SIGKILLed node until its session times out (9 s): a node of ours is up only
        # while its process lives too; one not started by us while it answers
        up = [
            node.node_id in registered and (pid is not None or (not ours and port_open(node.host, node.port)))
            for node, pid in zip(self.nodes, pids, strict=True)
        ]
        cluster = ServiceStatus(
            name=f"{self.name} ({sum(up)}/{len(self.nodes)} brokers)",
            running=bool(registered),  # it serves; the node rows tell whether every node does
            version=version,
            pid=None,
            data_dir=self.home,
            ours=ours or not registered,
        )
        rows = [cluster]
        for node, pid, node_up in zip(self.nodes, pids, up, strict=True):
            rows.append(
                ServiceStatus(
                    name=f"  node {node.node_id}" + (" (quorum leader)" if node.node_id == leader else ""),
                    running=node_up,
                    version=version,
                    pid=pid,
                    ports={"broker": node.port, "controller": node.controller_port},
                    data_dir=node.data_dir,
                    log_file=node.process.log_file,
                    ours=pid is not None or not node_up,
                )
            )
        return rows


# The name the stack, the test fixtures and the benchmarks have used since the single-node days.
KafkaService = KafkaCluster

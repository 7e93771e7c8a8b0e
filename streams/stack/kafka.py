"""Apache Kafka in KRaft mode, one combined broker+controller, from the official jars on Maven Central.

No Docker and no tarball download: Maven resolves `kafka_2.13` and its dependencies (deploy/kafka/pom.xml)
into a per-version cache directory, and the machine's Java runs `kafka.Kafka` on that classpath.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid
from importlib import resources
from pathlib import Path

from streams.settings import PROJECT_ROOT, Settings
from streams.stack.errors import InstallError, StartError
from streams.stack.packages import apt_install
from streams.stack.process import ManagedProcess, port_open, wait_until
from streams.stack.service import ServiceStatus

POM = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
READY_TIMEOUT_S = 90.0


class KafkaService:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._host, self._port = settings.kafka_host_port
        self.home = settings.state_dir / "kafka"
        self.data_dir = self.home / "data"
        self.jars = settings.state_dir / "cache" / f"kafka-{settings.kafka_version}"
        self.process = ManagedProcess(name="kafka", pid_file=self.home / "kafka.pid", log_file=self.home / "server.log")

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

    def configure(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        self._render("kafka-log4j2.properties", self.home / "log4j2.properties", log_file=self.process.log_file)
        return self._render(
            "kafka-server.properties",
            self.home / "server.properties",
            host=self._host,
            port=self._port,
            controller_port=self._settings.kafka_controller_port,
            log_dirs=self.data_dir,
            partitions=self._settings.default_partitions,
        )

    def cluster_id(self) -> str:
        """Chosen once and kept, so the storage formatted with it stays valid across down/up."""
        path = self.home / "cluster.id"
        if not path.exists():
            cluster_id = "-"
            while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: "-…" would read as a CLI option
                cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            path.write_text(cluster_id + "\n")
        return path.read_text().strip()

    def _format_storage(self, config: Path) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        result = subprocess.run(
            [
                *self._java_argv(),
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={self.cluster_id()}",
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StartError(f"formatting Kafka storage in {self.data_dir} failed:\n{result.stdout}{result.stderr}")

    def _java_argv(self) -> list[str]:
        return [
            self.java(),
            "-Xms256m", f"-Xmx{self._settings.kafka_heap}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp", f"{self.jars}/*",
        ]  # fmt: skip

    # -- lifecycle -----------------------------------------------------------------------------------------

    def up(self) -> bool:
        if self.process.pid() is not None:
            wait_until(self.ready, timeout=READY_TIMEOUT_S, what="Kafka broker", process=self.process)
            return False
        if port_open(self._host, self._port):
            # somebody else's broker (or a stack started from another checkout): use it, never fight it
            return False
        self.install()
        config = self.configure()
        self._format_storage(config)
        self.process.start([*self._java_argv(), "kafka.Kafka", str(config)], cwd=self.home)
        wait_until(self.ready, timeout=READY_TIMEOUT_S, what="Kafka broker", process=self.process)
        return True

    def down(self) -> bool:
        return self.process.stop(timeout=60.0)

    def ready(self) -> bool:
        if not port_open(self._host, self._port):
            return False
        from confluent_kafka.admin import AdminClient  # imported late: `stack status` should not need it

        admin = AdminClient({"bootstrap.servers": self._settings.kafka_bootstrap, "log_level": 0})
        try:
            metadata = admin.list_topics(timeout=3)
        except Exception:
            return False
        return bool(metadata.brokers)

    def version(self) -> str | None:
        jars = sorted(self.jars.glob("kafka_2.13-*.jar"))
        return jars[0].stem.removeprefix("kafka_2.13-") if jars else None

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        running = self.ready()
        return ServiceStatus(
            name=self.name,
            running=running,
            version=self.version() if pid is not None else ("external" if running else None),
            pid=pid,
            ports={"broker": self._port, "controller": self._settings.kafka_controller_port},
            data_dir=self.data_dir,
            log_file=self.process.log_file,
            ours=pid is not None or not running,
        )

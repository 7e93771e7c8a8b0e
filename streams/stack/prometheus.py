"""A Prometheus server run as a process of the project (`crossroads stack up --with-monitoring`), from the
machine's Debian package (2.42 on bookworm), scraping every platform process the state directory announces.

The platform's processes announce themselves in `<state_dir>/monitoring/targets/` (streams.observability.exporter);
this server reads that folder as a file_sd target list, so a worker started later, or on another port, is
scraped without a reload. Config, data and log live under `<state_dir>/prometheus/`; the package's systemd unit
and /etc/prometheus are never used.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request

from streams.observability import prometheus_api
from streams.observability.exporter import targets_dir
from streams.settings import Settings
from streams.stack.errors import InstallError, StartError
from streams.stack.packages import apt_install
from streams.stack.process import ManagedProcess, port_open, wait_until
from streams.stack.service import ServiceStatus

PACKAGE = "prometheus"
BINARY_DIRS = ("/usr/bin", "/usr/local/bin")
READY_TIMEOUT_S = 60.0
HOST = "127.0.0.1"
# personal data is pseudonymised before the warehouse, but metrics hold none: 15 days of history is enough to see
# a trend and cheap on a laptop
RETENTION = "15d"


def local_url(settings: Settings) -> str:
    return f"http://{HOST}:{settings.prometheus_port}"


class PrometheusService:
    name = "prometheus"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.home = settings.state_dir / "prometheus"
        self.data_dir = self.home / "data"
        self.config_file = self.home / "prometheus.yml"
        self.process = ManagedProcess(
            name="prometheus", pid_file=self.home / "prometheus.pid", log_file=self.home / "prometheus.log"
        )

    @property
    def url(self) -> str:
        return local_url(self._settings)

    def binary(self) -> str | None:
        for folder in BINARY_DIRS:
            candidate = f"{folder}/prometheus"
            if shutil.which(candidate):
                return candidate
        return shutil.which("prometheus")

    def install(self) -> None:
        if self.binary() is None:
            apt_install(PACKAGE)
        if self.binary() is None:
            raise InstallError(f"the {PACKAGE} package is installed but no prometheus binary was found")

    def configure(self) -> None:
        interval = f"{self._settings.prometheus_scrape_interval_s:g}s"
        targets = targets_dir(self._settings)
        targets.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        # JSON is YAML: no YAML writer needed, and nothing to escape by hand
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": [
                {
                    "job_name": "crossroads",
                    "file_sd_configs": [{"files": [str(targets / "*.json")], "refresh_interval": interval}],
                },
                {
                    "job_name": "prometheus",
                    "static_configs": [{"targets": [f"{HOST}:{self._settings.prometheus_port}"]}],
                },
            ],
        }
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")

    def up(self) -> bool:
        if self.process.pid() is not None:
            self.configure()
            self._wait_ready()
            return False
        if port_open(HOST, self._settings.prometheus_port):
            raise StartError(
                f"port {self._settings.prometheus_port} is taken by another process; free it or choose another "
                "with CROSSROADS_PROMETHEUS_PORT"
            )
        self.install()
        binary = self.binary()
        if binary is None:
            raise InstallError("prometheus is not installed")
        self.configure()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process.start(
            [
                binary,
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address={HOST}:{self._settings.prometheus_port}",
            ],
            cwd=self.home,
        )
        self._wait_ready()
        return True

    def _wait_ready(self) -> None:
        try:
            wait_until(self.ready, timeout=READY_TIMEOUT_S, what="Prometheus", process=self.process)
        except StartError as exc:
            raise StartError(f"{exc}\nlast lines of {self.process.log_file}:\n{self.process.log_tail(10)}") from exc

    def down(self) -> bool:
        return self.process.stop(timeout=30.0)

    def ready(self) -> bool:
        return prometheus_api.ready(self.url)

    def version(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/status/buildinfo", timeout=2.0) as response:
                return str(json.loads(response.read())["data"]["version"])
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        version = self.version()
        return ServiceStatus(
            name=self.name,
            running=version is not None,
            version=version,
            pid=pid,
            ports={"http": self._settings.prometheus_port},
            data_dir=self.data_dir,
            log_file=self.process.log_file,
            ours=pid is not None or not port_open(HOST, self._settings.prometheus_port),
        )

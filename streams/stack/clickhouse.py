"""A ClickHouse server run as a process of the project, from the machine's Debian package (18.16 on bookworm).

The server gets its own config, data, logs and pid file under `<state_dir>/clickhouse/`; the package's
/etc/clickhouse-server and its systemd unit are never used, so nothing here needs the `clickhouse` user.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from importlib import resources
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from connectors.clickhouse.client import (
    SERVER_DATABASE,
    WarehouseError,
    WarehouseQueryError,
    WarehouseUnavailable,
    connect,
    execute,
    quote_identifier,
)
from streams.settings import Settings
from streams.stack.errors import InstallError, StartError
from streams.stack.packages import apt_install
from streams.stack.process import ManagedProcess, port_open, wait_until
from streams.stack.service import ServiceStatus

PACKAGES = ("clickhouse-server", "clickhouse-client")
# Debian puts the server in /usr/sbin, which is not on a non-root PATH; upstream packages use /usr/bin
BINARY_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/bin")
READY_TIMEOUT_S = 60.0
# the server looks at users.xml and users.d/ every 2 s; a loaded machine may take much longer to act on it
GRANT_TIMEOUT_S = 60.0
ACCESS_DENIED = 291
UNKNOWN_TABLE = 60
UNKNOWN_DATABASE = 81
MAX_MEMORY_PER_QUERY = 4 * 1024**3
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
LOOPBACK_NETWORKS = ("::1", "127.0.0.1")
ANY_NETWORK = ("::/0", "0.0.0.0/0")
_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_STACK_FRAME = re.compile(r"^\s*\d+\. ")


class ClickHouseService:
    name = "clickhouse"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._address = settings.clickhouse
        self.home = settings.state_dir / "clickhouse"
        self.data_dir = self.home / "data"
        self.log_dir = self.home / "log"
        self.config_file = self.home / "config.xml"
        self.users_file = self.home / "users.xml"
        # the server merges <users_config stem>.d/*.xml into users.xml (ClickHouse's ConfigProcessor)
        self.grants_dir = self.home / "users.d"
        self.roles_file = self.grants_dir / "roles.xml"
        self.server_log = self.log_dir / "clickhouse-server.log"
        self.error_log = self.log_dir / "clickhouse-server.err.log"
        # stdout/stderr only carry what happens before the server's own logger is set up (config errors)
        self.process = ManagedProcess(
            name="clickhouse", pid_file=self.home / "clickhouse.pid", log_file=self.log_dir / "stdout.log"
        )

    @property
    def ports(self) -> dict[str, int]:
        return {"native": self._address.port, "http": self._settings.clickhouse_http_port}

    # -- install -------------------------------------------------------------------------------------------

    def binary(self) -> str | None:
        found = shutil.which("clickhouse-server")
        if found:
            return found
        candidates = (Path(directory) / "clickhouse-server" for directory in BINARY_DIRS)
        return next((str(path) for path in candidates if path.exists()), None)

    def install(self) -> None:
        """apt-get the server when it is missing; the package's own service is left alone."""
        if self.binary() is not None:
            return
        apt_install(*PACKAGES)
        if self.binary() is None:
            raise InstallError(f"{' '.join(PACKAGES)} installed but no clickhouse-server binary was found")

    # -- configuration -------------------------------------------------------------------------------------

    def configure(self) -> Path:
        """(Re)write config.xml and users.xml from the settings; returns the config to start with."""
        for directory in (self.data_dir, self.log_dir, *self._scratch_dirs()):
            directory.mkdir(parents=True, exist_ok=True)
        self._render(
            "clickhouse-config.xml",
            self.config_file,
            log_file=self.server_log,
            error_log_file=self.error_log,
            tcp_port=self._address.port,
            http_port=self._settings.clickhouse_http_port,
            data_dir=self.data_dir,
            tmp_dir=self.home / "tmp",
            user_files_dir=self.home / "user_files",
            format_schema_dir=self.home / "format_schemas",
            users_file=self.users_file,
        )
        self._render(
            "clickhouse-users.xml",
            self.users_file,
            user=self._user(),
            password_sha256=hashlib.sha256(self._address.password.encode()).hexdigest(),
            max_memory_usage=MAX_MEMORY_PER_QUERY,
        )
        self.grants_dir.mkdir(exist_ok=True)
        self.roles_file.write_text(
            roles_xml(
                database=self._address.database,
                projector_user=self._projector_user(),
                projector_password=self._projector_password(),
                networks=LOOPBACK_NETWORKS,
            )
        )
        self.roles_file.chmod(0o600)
        # the password hashes are in there: keep them to ourselves
        self.users_file.chmod(0o600)
        return self.config_file

    def _scratch_dirs(self) -> tuple[Path, ...]:
        return (self.home / "tmp", self.home / "user_files", self.home / "format_schemas")

    def _user(self) -> str:
        return _element_name(self._address.user)

    def _projector_user(self) -> str:
        return _element_name(self._settings.clickhouse_projector_user)

    def _projector_password(self) -> str:
        return self._settings.clickhouse_projector_password.get_secret_value()

    # -- the roles' rights on further warehouses -----------------------------------------------------------

    def grant_file(self, database: str) -> Path:
        return self.grants_dir / f"warehouse-{quote_identifier(database)}.xml"

    def grant(self, database: str) -> None:
        """Give the roles (analyst, auditor, projector) their rights on the warehouse `database` (its `_audit`,
        `_reid` and `_oasis` siblings included) on this running server, and wait until the server applies them.

        users.d/roles.xml names the warehouse it was rendered for; any other (a test session's, a chaos run's)
        gets a file of its own beside it, so concurrent sessions never rewrite each other's."""
        if database == self._roles_database():
            return
        target = self.grant_file(database)
        self.grants_dir.mkdir(parents=True, exist_ok=True)
        # the server reads users.d/*.xml only: a half-written file under that name would fail its reload
        scratch = self.grants_dir / f".{target.name}.tmp"
        scratch.write_text(self.grants_xml(database))
        os.replace(scratch, target)
        wait_until(
            lambda: self._projector_may_use(database),
            timeout=GRANT_TIMEOUT_S,
            what=f"ClickHouse to reload {target}",
            process=self.process,
        )

    def _roles_database(self) -> str | None:
        """The warehouse users.d/roles.xml was rendered for, if it was."""
        try:
            roles = ElementTree.parse(self.roles_file).getroot()
        except (OSError, ElementTree.ParseError):
            return None
        return roles.findtext("users/analyst/allow_databases/database")

    def grants_xml(self, database: str) -> str:
        """The users.d file that grants the roles `database` and its siblings."""
        grants = "clickhouse-warehouse-grants.xml"
        return _rendered(grants, database=quote_identifier(database), projector_user=self._projector_user())

    def revoke(self, database: str) -> None:
        """Take the roles' rights on `database` back (the server reloads within seconds; nothing waits)."""
        self.grant_file(database).unlink(missing_ok=True)

    def _projector_may_use(self, database: str) -> bool:
        """Whether the server lets the projector's user at `database` yet. The probe table does not exist:
        the server checks the access right before it looks for the database or the table."""
        client = connect(
            self._settings,
            "system",  # every user may use it; a refused default database would only close the connection
            connect_timeout=2.0,
            send_receive_timeout=10.0,
            address=self._settings.clickhouse_projector,
        )
        try:
            execute(client, f"SELECT 1 FROM {quote_identifier(database)}.crossroads_grant_probe")
        except WarehouseQueryError as exc:
            if exc.code == ACCESS_DENIED:
                return False
            if exc.code in (UNKNOWN_DATABASE, UNKNOWN_TABLE):
                return True
            # most likely a server started before the roles existed: its users files are rewritten on start only
            raise StartError(
                f"the projector's user ({self._projector_user()}) cannot use the local ClickHouse: {exc}; "
                "restart the stack (`crossroads stack down`, `crossroads stack up`) to rewrite its users files"
            ) from exc
        except WarehouseUnavailable:
            return False
        finally:
            client.disconnect()
        return True

    def _render(self, template: str, target: Path, **values: object) -> None:
        target.write_text(_rendered(template, **values))

    # -- lifecycle -----------------------------------------------------------------------------------------

    def up(self) -> bool:
        if self.process.pid() is not None:
            self._wait_ready()
            # started for another warehouse, maybe: the roles get this one too (its roles.xml names the other)
            self.grant(self._address.database)
            return False
        if port_open(self._address.host, self._address.port):
            # somebody else's server (system service, other checkout, CI service): use it, never fight it
            return False
        if self._address.host not in LOOPBACK:
            raise StartError(
                f"CROSSROADS_CLICKHOUSE_URL points at {self._address.host}:{self._address.port}, which does "
                "not answer; the local stack only starts a server on 127.0.0.1"
            )
        http = self._settings.clickhouse_http_port
        if port_open(self._address.host, http):
            raise StartError(
                f"port {http} (ClickHouse HTTP) is taken by another process; "
                "free it or choose another with CROSSROADS_CLICKHOUSE_HTTP_PORT"
            )
        self.install()
        binary = self.binary()
        if binary is None:  # install() guarantees it; this keeps mypy and a racing uninstall honest
            raise InstallError("clickhouse-server is not installed")
        config = self.configure()
        self.process.start([binary, f"--config-file={config}"], cwd=self.home)
        self._wait_ready()
        return True

    def _wait_ready(self) -> None:
        try:
            wait_until(self.ready, timeout=READY_TIMEOUT_S, what="ClickHouse server", process=self.process)
        except StartError as exc:
            raise StartError(f"{exc}\nlast lines of {self.error_log}:\n{self._error_log_tail()}") from exc

    def _error_log_tail(self, lines: int = 10) -> str:
        try:
            text = self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no error log yet)"
        # stack-trace frames would push the one line that says what went wrong out of the tail
        messages = [line for line in text.splitlines() if line.strip() and not _STACK_FRAME.match(line)]
        return "\n".join(messages[-lines:]) or "(empty)"

    def down(self) -> bool:
        return self.process.stop(timeout=60.0)

    def ready(self) -> bool:
        return self.version() is not None

    def version(self) -> str | None:
        """The server's version if it answers `SELECT version()` within a couple of seconds, else None."""
        # probing the port first costs the server a "Client has not sent any data" warning, but spares the
        # console the driver's logged traceback for every refused connection while the server starts
        if not port_open(self._address.host, self._address.port):
            return None
        client = connect(self._settings, SERVER_DATABASE, connect_timeout=2.0, send_receive_timeout=5.0)
        try:
            rows = execute(client, "SELECT version()")
        except WarehouseError:
            return None
        finally:
            client.disconnect()
        return str(rows[0][0]) if rows else None

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        version = self.version()
        return ServiceStatus(
            name=self.name,
            running=version is not None,
            version=version,
            pid=pid,
            ports=self.ports,
            data_dir=self.data_dir,
            log_file=self.server_log,
            # something answering on our port without our pid file is not ours
            ours=pid is not None or not port_open(self._address.host, self._address.port),
        )


def _rendered(template: str, **values: object) -> str:
    text = resources.files("streams.stack").joinpath("templates", template).read_text()
    return text.format(**{key: escape(str(value)) for key, value in values.items()})


def roles_xml(*, database: str, projector_user: str, projector_password: str, networks: tuple[str, str]) -> str:
    """The roles' users.d file (templates/clickhouse-roles.xml) for the warehouse `database`, the roles logging in
    from `networks` (an IPv6 and an IPv4 network)."""
    network_v6, network_v4 = networks
    return _rendered(
        "clickhouse-roles.xml",
        database=quote_identifier(database),
        projector_user=_element_name(projector_user),
        projector_password_sha256=hashlib.sha256(projector_password.encode()).hexdigest(),
        max_memory_usage=MAX_MEMORY_PER_QUERY,
        network_v6=network_v6,
        network_v4=network_v4,
    )


def compose_roles_xml() -> str:
    """deploy/clickhouse/users.d/crossroads-roles.xml, mounted by docker-compose.yml: the roles on the compose's
    warehouse (`crossroads`), with the development passwords, from any address of the compose network (the
    workers run in other containers; the server's ports are published on the host's loopback only).

    Regenerate: .venv/bin/python -c 'from streams.stack.clickhouse import compose_roles_xml as x; print(x(), end="")'
    > deploy/clickhouse/users.d/crossroads-roles.xml"""
    fields = Settings.model_fields
    password = fields["clickhouse_projector_password"].default
    return roles_xml(
        database="crossroads",
        projector_user=fields["clickhouse_projector_user"].default,
        projector_password=password.get_secret_value(),
        networks=ANY_NETWORK,
    )


def _element_name(user: str) -> str:
    # a user name becomes an XML element name in users.xml, so it has to be one
    if not _USER_NAME.match(user):
        raise StartError(f"user {user!r} cannot be configured on the local ClickHouse")
    return user


def grant_roles(settings: Settings, database: str) -> bool:
    """`ClickHouseService.grant` on the local stack's server, when that is the server `settings` point at (the
    project started it from `settings.state_dir`); False, and nothing done, otherwise."""
    service = ClickHouseService(settings)
    if service.process.pid() is None:
        return False
    service.grant(database)
    return True


def revoke_roles(settings: Settings, database: str) -> None:
    ClickHouseService(settings).revoke(database)

"""The one way into the warehouse: a clickhouse_driver client built from `Settings`, and its errors.

Everything above this module sees `WarehouseError` and its subclasses, never a clickhouse_driver exception:
callers decide "retry later" (`WarehouseUnavailable`) versus "our query or schema is wrong"
(`WarehouseQueryError`) without knowing which driver is underneath.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from streams.settings import ClickHouseAddress, Settings

# Exists on every server, so it is where we connect before our own database has been created.
SERVER_DATABASE = "default"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WarehouseError(Exception):
    """Something went wrong talking to the warehouse."""


class WarehouseUnavailable(WarehouseError):
    """The server could not be reached or stopped answering: infrastructure, worth a bounded retry."""


class WarehouseQueryError(WarehouseError):
    """The server refused or failed a statement; `code` is ClickHouse's error code when it sent one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class Executor(Protocol):
    """What this package needs from a connection; `clickhouse_driver.Client` has it, and so can test fakes."""

    def execute(self, query: str, params: Any = None) -> Any: ...


def connect(
    settings: Settings,
    database: str | None = None,
    *,
    connect_timeout: float = 10.0,
    send_receive_timeout: float = 300.0,
    address: ClickHouseAddress | None = None,
) -> Client:
    """A native-protocol client for `settings.clickhouse_url`.

    `database` defaults to the settings' database; pass `SERVER_DATABASE` to work before that one exists
    (migrations create it). `address` logs in as another user than the URL's (the projector's:
    `settings.clickhouse_projector`). The driver connects lazily, on the first query.
    """
    address = address or settings.clickhouse
    return Client(
        host=address.host,
        port=address.port,
        user=address.user,
        password=address.password,
        database=database or address.database,
        client_name="crossroads",
        connect_timeout=connect_timeout,
        send_receive_timeout=send_receive_timeout,
    )


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Re-raise driver and socket failures as `WarehouseError`s that say what we were doing."""
    try:
        yield
    except driver_errors.ServerException as exc:
        raise WarehouseQueryError(f"{what}: {_describe(exc)}", code=exc.code) from exc
    except (driver_errors.NetworkError, driver_errors.SocketTimeoutError, OSError, EOFError) as exc:
        raise WarehouseUnavailable(f"{what}: ClickHouse unreachable ({exc})") from exc
    except driver_errors.Error as exc:
        raise WarehouseQueryError(f"{what}: {_describe(exc)}", code=exc.code) from exc


def execute(
    client: Executor, query: str, params: Mapping[str, Any] | None = None, *, what: str | None = None
) -> list[tuple[Any, ...]]:
    """Run one statement and return its rows, with errors translated at this boundary."""
    with translated_errors(what or _summary(query)):
        rows = client.execute(query, params)
    return [tuple(row) for row in rows or []]


def quote_identifier(name: str) -> str:
    """Database and table names are interpolated into DDL, so only plain identifiers are accepted."""
    if not _IDENTIFIER.match(name):
        raise WarehouseError(f"not a plain ClickHouse identifier: {name!r}")
    return name


def _describe(exc: Exception) -> str:
    # server messages end in a multi-kilobyte C++ stack trace that helps nobody reading ours
    text = " ".join(str(exc).split("Stack trace:", 1)[0].split())
    return (text if len(text) <= 400 else text[:397] + "...") or type(exc).__name__


def _summary(query: str) -> str:
    flat = " ".join(query.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."

"""Failures of the local stack."""

from __future__ import annotations


class StackError(Exception):
    """The local stack could not be installed, started, stopped or reached."""


class InstallError(StackError):
    """A component could not be installed (package manager or Maven failed)."""


class StartError(StackError):
    """A service did not start or did not become ready in time; the message points at its log."""


class ProcessDied(StackError):
    """A process of the platform (worker, projector, connector, broker) that should run has ended; the message
    gives how it ended and the last lines of its log."""

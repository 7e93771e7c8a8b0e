"""Failures of the local stack."""

from __future__ import annotations


class StackError(Exception):
    """The local stack could not be installed, started, stopped or reached."""


class InstallError(StackError):
    """A component could not be installed (package manager or Maven failed)."""


class StartError(StackError):
    """A service did not start or did not become ready in time; the message points at its log."""

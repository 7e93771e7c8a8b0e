"""Batch partners: file-drop connectors in (partner files -> intake topics) and out (mailbox -> reply files).

The protocol's rules (names, formal checks, replies, identity) are pure, in :mod:`streams.domain.filedrop`;
this package does the I/O. See docs/connectors.md.
"""

from __future__ import annotations

from connectors.files.inbound import FileOutcome, InboundConnector
from connectors.files.outbound import OutboundConnector

__all__ = ["FileOutcome", "InboundConnector", "OutboundConnector"]

"""A faust worker running only the auditor flow, for tests/integration/test_audit_trail.py.

Run as ``python tests/integration/helpers_auditor.py`` with the settings in CROSSROADS_* variables.  It is
the production `create_app` with one flow; only the group's session timeout is shortened, so that a worker
restarted after a SIGKILL gets its partitions in seconds instead of waiting out the dead member's session.
"""

from __future__ import annotations

import logging

from faust.worker import Worker

from streams.settings import Settings
from topologies import auditor
from topologies.app import create_app


def main() -> None:
    app = create_app(Settings(), flows=[auditor])
    app.conf.broker_session_timeout = 6.0  # the broker's minimum (group.min.session.timeout.ms)
    app.conf.broker_heartbeat_interval = 1.0
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    Worker(app, loglevel="warning", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()

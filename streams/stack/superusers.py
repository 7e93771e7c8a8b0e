"""The super users' SCRAM credentials for a broker this project does not start itself (docker-compose.yml).

`crossroads stack up` formats its own storage with the broker's and the operator's credentials
(`kafka-storage format --add-scram`, streams/stack/kafka.py). A broker in a container formats its own, so
`crossroads stack credentials` writes what it needs into a directory the two share: each super user's
password (``<principal>.password``, derived from CROSSROADS_ACCESS_SECRET like every other password, so it is
never written down twice) and the operator's Java client properties (``operator.properties``, for the
kafka-*.sh tools, e.g. the container's healthcheck).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from streams.access import BROKER, OPERATOR
from streams.domain.credentials import derived_password
from streams.kafka.security import SCRAM_MECHANISM

SUPER_USERS = (BROKER, OPERATOR)


@dataclass(frozen=True)
class SuperUserFiles:
    """Where the super users' credentials live."""

    directory: Path

    def password(self, principal: str) -> Path:
        return self.directory / f"{principal}.password"

    @property
    def operator_properties(self) -> Path:
        return self.directory / "operator.properties"


def write_superuser_files(
    directory: Path, access_secret: str, *, truststore: Path, group_readable: bool = False
) -> SuperUserFiles:
    """Write the super users' passwords and the operator's client properties (trusting `truststore`, a PEM CA
    certificate as the broker's side sees it). Private to the owner, or to its group with `group_readable`
    (a broker running as another user of the group). Idempotent: the same secret writes the same files."""
    files = SuperUserFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    mode = 0o640 if group_readable else 0o600
    for principal in SUPER_USERS:
        _write(files.password(principal), derived_password(access_secret, principal) + "\n", mode)
    operator_password = derived_password(access_secret, OPERATOR)
    _write(
        files.operator_properties,
        "# The operator's Kafka client properties (Java tools: --command-config); written by"
        " `crossroads stack credentials`\n"
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={SCRAM_MECHANISM}\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required"
        f' username="{OPERATOR}" password="{operator_password}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={truststore}\n",
        mode,
    )
    return files


def _write(path: Path, text: str, mode: int) -> None:
    # created with the final mode: the secret is never readable by others, not even for a moment
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(path, mode)  # an existing file keeps its mode through os.open

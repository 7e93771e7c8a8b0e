"""How every Kafka client of the platform connects: one place for the bootstrap, TLS and SCRAM settings.

confluent-kafka clients (producers, consumers, admin) take :func:`client_config`; faust and aiokafka take
:func:`ssl_context` with the principal's credentials (topologies/app.py). On the default, secured stack a
client speaks SASL_SSL: TLS verified against the stack's CA, then SCRAM-SHA-512 as `settings.kafka_principal`
(docs/security.md). `plaintext` exists only for the security-cost baseline of bench_core.
"""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings

SCRAM_MECHANISM = "SCRAM-SHA-512"


def security_config(settings: Settings) -> dict[str, Any]:
    """The connection properties without the bootstrap list (what `access client-config` prints, too)."""
    if settings.kafka_security == "plaintext":
        return {"security.protocol": "PLAINTEXT"}
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": SCRAM_MECHANISM,
        "sasl.username": settings.kafka_principal,
        "sasl.password": settings.kafka_secret,
        "ssl.ca.location": str(settings.kafka_ca),
        # the broker's certificate names every host of the bootstrap list: verify it (librdkafka's default)
        "ssl.endpoint.identification.algorithm": "https",
    }


def client_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """A confluent-kafka client configuration for `settings.kafka_principal`, plus the caller's properties."""
    return {"bootstrap.servers": settings.kafka_bootstrap, **security_config(settings), **overrides}


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """A TLS context that trusts the brokers' CA only (for aiokafka/faust and the stack's own probes)."""
    context = ssl.create_default_context(cafile=str(settings.kafka_ca))
    context.check_hostname = True
    return context

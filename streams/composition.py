"""The composition root: what every platform process builds from its settings, built in one place.

A flow, a connector or a command does not construct its codec or load its network itself: it asks here, so that
every process reads the same schema directory, schema registry and network the same way (and a bad schema or
network file stops it at start-up with the same error). The faust worker's wiring is `topologies.deps.Deps`,
built from these.
"""

from __future__ import annotations

from streams.codecs import AvroCodec, SchemaRegistry
from streams.domain.network import Network
from streams.network_files import load_network
from streams.settings import Settings

__all__ = ["codec_for", "network_for", "registry_for"]


def registry_for(settings: Settings) -> SchemaRegistry:
    """The schemas of ``settings.schema_dir``, parsed and checked."""
    return SchemaRegistry.from_directory(settings.schema_dir)


def codec_for(settings: Settings, registry: SchemaRegistry | None = None) -> AvroCodec:
    """The platform's codec: our schemas, with the schema registry's framing when one is configured."""
    return AvroCodec(registry or registry_for(settings), settings.schema_registry_url)


def network_for(settings: Settings) -> Network:
    """The network of ``settings.network_dir``, loaded and validated (`NetworkError` with every problem)."""
    return load_network(settings.network_dir)

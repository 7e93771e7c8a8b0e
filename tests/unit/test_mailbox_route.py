"""Where a mailbox message goes: an institution's own topic (key unchanged), every other actor's share of the
one employers' mailbox (keyed by the actor, so one employer's messages stay on one partition, in order); and
the catalog entry of that shared topic, which readers find through the same rule (`mailbox_of`)."""

from __future__ import annotations

import dataclasses

import pytest

from streams.catalog import (
    CATALOG,
    EMPLOYERS_MAILBOX,
    MAILBOX_RETENTION_MS,
    Area,
    by_key,
    mailbox,
    mailbox_of,
    platform_topics,
    valid_name,
)
from streams.codecs import AvroCodec, SchemaRegistry
from streams.network_files import load_network
from streams.settings import Settings
from topologies.deps import Deps
from topologies.edges import mailbox_route

MUTUALITY = "0206731645"  # an institution of the sample network
EMPLOYER = "0403170701"  # not one
PERSON = b"85073003328"


@pytest.fixture(scope="module")
def deps() -> Deps:
    settings = Settings(topic_prefix="unit")
    codec = AvroCodec(SchemaRegistry.from_directory(settings.schema_dir))
    return Deps(settings, codec, loaded_network=load_network(settings.network_dir))


def test_an_institution_keeps_its_own_mailbox_and_the_key(deps: Deps) -> None:
    assert mailbox_route(deps, MUTUALITY, PERSON) == ("unit.mailbox.0206731645.v1", PERSON)
    assert mailbox_route(deps, MUTUALITY, None) == ("unit.mailbox.0206731645.v1", None)


def test_every_institution_of_the_network_has_its_own_mailbox(deps: Deps) -> None:
    for institution in deps.network().institutions:
        assert mailbox_route(deps, institution, PERSON) == (f"unit.mailbox.{institution}.v1", PERSON)


def test_an_employer_shares_the_employers_mailbox_keyed_by_its_id(deps: Deps) -> None:
    assert mailbox_route(deps, EMPLOYER, PERSON) == ("unit.mailbox.employers.v1", EMPLOYER.encode())
    assert mailbox_route(deps, EMPLOYER, None) == ("unit.mailbox.employers.v1", EMPLOYER.encode())
    # whoever the person is, one employer's messages land on one partition
    assert mailbox_route(deps, EMPLOYER, b"00000000097")[1] == mailbox_route(deps, EMPLOYER, PERSON)[1]


def test_the_route_follows_the_network_it_is_given(deps: Deps) -> None:
    """The institutions are cached per network: another network (another Deps) is not answered from the cache."""
    network = deps.network()
    without = dataclasses.replace(
        network, institutions={k: v for k, v in network.institutions.items() if k != MUTUALITY}
    )
    other = dataclasses.replace(deps, loaded_network=without)
    assert mailbox_route(deps, MUTUALITY, PERSON)[0] == "unit.mailbox.0206731645.v1"
    assert mailbox_route(other, MUTUALITY, PERSON) == ("unit.mailbox.employers.v1", MUTUALITY.encode())
    assert mailbox_route(deps, MUTUALITY, PERSON)[0] == "unit.mailbox.0206731645.v1"


def test_without_a_network_the_route_says_so(deps: Deps) -> None:
    with pytest.raises(RuntimeError, match="needs the network"):
        mailbox_route(dataclasses.replace(deps, loaded_network=None), EMPLOYER, PERSON)


def test_readers_find_a_mailbox_by_the_same_rule(deps: Deps) -> None:
    institutions = deps.network().institutions
    for actor, key in ((MUTUALITY, PERSON), (EMPLOYER, PERSON)):
        spec, wanted = mailbox_of(actor, institutions)
        topic, sent_key = mailbox_route(deps, actor, key)
        assert spec.topic("unit") == topic
        assert wanted is None or wanted == sent_key  # None: the whole topic is the actor's
    assert mailbox_of(EMPLOYER, institutions) == (EMPLOYERS_MAILBOX, EMPLOYER.encode())
    assert mailbox_of(MUTUALITY, institutions) == (mailbox(MUTUALITY), None)


def test_the_employers_mailbox_is_a_catalog_topic_kept_as_long_as_mailboxes() -> None:
    assert by_key(Area.MAILBOX, "employers") is EMPLOYERS_MAILBOX
    assert EMPLOYERS_MAILBOX in CATALOG
    assert EMPLOYERS_MAILBOX.topic("crossroads") == "crossroads.mailbox.employers.v1"
    assert valid_name(EMPLOYERS_MAILBOX.topic("crossroads"))
    assert EMPLOYERS_MAILBOX.key == "employer"
    assert EMPLOYERS_MAILBOX.retention_ms == mailbox(MUTUALITY).retention_ms == MAILBOX_RETENTION_MS
    assert EMPLOYERS_MAILBOX.config() == mailbox(MUTUALITY).config()


def test_platform_topics_are_the_catalog_and_the_institutions_mailboxes_only() -> None:
    network = load_network(Settings().network_dir)
    topics = [spec.topic("crossroads") for spec in platform_topics(network.institutions)]
    mailboxes = sorted(t for t in topics if ".mailbox." in t)
    expected = sorted(
        [f"crossroads.mailbox.{i}.v1" for i in network.institutions] + ["crossroads.mailbox.employers.v1"]
    )
    assert mailboxes == expected
    assert len(topics) == len(set(topics))

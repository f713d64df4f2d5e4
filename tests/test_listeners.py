"""Two listeners, each answering Metadata with its own advertised endpoint."""

from conftest import admin_client, create_topic, kcat_metadata, need_module

need_module("confluent_kafka")


def _broker_endpoints(md: dict) -> list[tuple[int, str, int]]:
    out = []
    for b in md["brokers"]:
        host, _, port = b["name"].rpartition(":")
        out.append((b["id"], host, int(port)))
    return out


def test_kcat_metadata_through_each_listener(broker):
    create_topic(broker.bootstrap, "listeners-topic", partitions=3)
    p1, p2 = broker.ports

    external = kcat_metadata(broker.bootstrap)
    assert _broker_endpoints(external) == [(1, "127.0.0.1", p1)], external["brokers"]

    internal = kcat_metadata(broker.internal_bootstrap)
    assert _broker_endpoints(internal) == [(1, "localhost", p2)], internal["brokers"]

    for md in (external, internal):
        topics = {t["topic"]: t for t in md["topics"]}
        assert "listeners-topic" in topics, sorted(topics)
        t = topics["listeners-topic"]
        assert "error" not in t, t
        parts = sorted(t["partitions"], key=lambda p: p["partition"])
        assert [p["partition"] for p in parts] == [0, 1, 2], parts
        for p in parts:
            assert p["leader"] == 1, p
            assert [r["id"] for r in p["replicas"]] == [1], p
            assert [r["id"] for r in p["isrs"]] == [1], p


def test_kcat_metadata_single_topic(broker):
    create_topic(broker.bootstrap, "one-of-two", partitions=2)
    create_topic(broker.bootstrap, "two-of-two", partitions=1)
    md = kcat_metadata(broker.bootstrap, "-t", "one-of-two")
    names = [t["topic"] for t in md["topics"]]
    assert names == ["one-of-two"], names
    assert len(md["topics"][0]["partitions"]) == 2


def test_admin_client_metadata_through_each_listener(broker):
    create_topic(broker.bootstrap, "listeners-admin", partitions=3)
    p1, p2 = broker.ports
    for bootstrap, host, port in ((broker.bootstrap, "127.0.0.1", p1), (broker.internal_bootstrap, "localhost", p2)):
        md = admin_client(bootstrap).list_topics(timeout=15)
        brokers = {b.id: (b.host, b.port) for b in md.brokers.values()}
        assert brokers == {1: (host, port)}, f"via {bootstrap}: {brokers}"
        assert md.controller_id == 1, md.controller_id
        assert md.cluster_id, "cluster id must be set"
        t = md.topics["listeners-admin"]
        assert t.error is None, t.error
        assert sorted(t.partitions) == [0, 1, 2]
        for p in t.partitions.values():
            assert p.leader == 1 and p.replicas == [1] and p.isrs == [1], (p.id, p.leader, p.replicas, p.isrs)

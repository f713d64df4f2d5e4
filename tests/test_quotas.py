"""Client quotas: DescribeClientQuotas/AlterClientQuotas stored where Kafka
stores them (ZooKeeper `/config/clients`, `/config/users`, merged with the
SCRAM credentials sharing a user's znode, plus `/config/changes`; the
standalone metadata store otherwise), `kafka-configs --entity-type
clients|users`, and producer_byte_rate / consumer_byte_rate enforced with
throttle_time_ms."""

from __future__ import annotations

import json
import time

import pytest

import wire
from conftest import admin_client, api_versions, create_topic, need_module
from test_new_apis import run_tool

ck = need_module("confluent_kafka")

pytestmark = pytest.mark.timeout(120)

INVALID_REQUEST = 42

DESCRIBE_REQ = [("components", ("array", [("entity_type", "str"), ("match_type", "i8"), ("match", "nstr")])),
                ("strict", "bool")]
DESCRIBE_RESP = [("throttle_time_ms", "i32"), ("error_code", "i16"), ("error_message", "nstr"),
                 ("entries", ("narray", [("entity", ("array", [("entity_type", "str"), ("entity_name", "nstr")])),
                                         ("values", ("array", [("key", "str"), ("value", "f64")]))]))]
ALTER_REQ = [("entries", ("array", [("entity", ("array", [("entity_type", "str"), ("entity_name", "nstr")])),
                                    ("ops", ("array", [("key", "str"), ("value", "f64"), ("remove", "bool")]))])),
             ("validate_only", "bool")]
ALTER_RESP = [("throttle_time_ms", "i32"), ("entries", ("array", [
    ("error_code", "i16"), ("error_message", "nstr"),
    ("entity", ("array", [("entity_type", "str"), ("entity_name", "nstr")]))]))]


def describe(bootstrap, v, components, strict=False):
    return wire.call(bootstrap, 48, v, DESCRIBE_REQ, {"components": components, "strict": strict}, DESCRIBE_RESP,
                     flexible=v >= 1)


def alter(bootstrap, v, entries, validate_only=False):
    return wire.call(bootstrap, 49, v, ALTER_REQ, {"entries": entries, "validate_only": validate_only}, ALTER_RESP,
                     flexible=v >= 1)


def entries_of(body):
    return sorted((tuple((e["entity_type"], e["entity_name"]) for e in x["entity"]),
                   tuple((v["key"], v["value"]) for v in x["values"])) for x in body["entries"])


def test_quotas_api_and_tool_standalone(broker):
    apis = api_versions("127.0.0.1", broker.external_port)["api_versions"]
    assert apis[48] == (0, 1) and apis[49] == (0, 1)
    bs = broker.bootstrap
    out = run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "app",
                   "--alter", "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048")
    assert out.stdout == "Completed updating config for client app.\n"
    run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "alice",
             "--alter", "--add-config", "producer_byte_rate=4096")
    run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "alice",
             "--entity-type", "clients", "--entity-default", "--alter", "--add-config", "request_percentage=12.5")
    out = run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "app",
                   "--describe").stdout
    assert out == "Quota configs for client-id 'app' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0\n"
    out = run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "alice",
                   "--describe").stdout
    assert out == "Quota configs for user-principal 'alice' are producer_byte_rate=4096.0\n"

    for v in (0, 1):
        every = describe(bs, v, [], strict=False)
        assert every["error_code"] == 0
        assert entries_of(every) == sorted([
            ((("client-id", "app"),), (("consumer_byte_rate", 2048.0), ("producer_byte_rate", 1024.0))),
            ((("user", "alice"),), (("producer_byte_rate", 4096.0),)),
            ((("user", "alice"), ("client-id", None)), (("request_percentage", 12.5),)),
        ])
        # Default client-id match, strict: only user+default-client entity has both... not strict: it matches.
        d = describe(bs, v, [{"entity_type": "client-id", "match_type": 1, "match": None}])
        assert entries_of(d) == [((("user", "alice"), ("client-id", None)), (("request_percentage", 12.5),))]
        d = describe(bs, v, [{"entity_type": "client-id", "match_type": 1, "match": None}], strict=True)
        assert d["entries"] == []
        bad = describe(bs, v, [{"entity_type": "user", "match_type": 2, "match": None},
                               {"entity_type": "user", "match_type": 2, "match": None}])
        assert bad["error_code"] == INVALID_REQUEST

    # Kafka's per-entry errors: a non-integral byte rate, an unknown key; validate_only writes nothing.
    body = alter(bs, 1, [
        {"entity": [{"entity_type": "client-id", "entity_name": "x"}],
         "ops": [{"key": "producer_byte_rate", "value": 1.5, "remove": False}]},
        {"entity": [{"entity_type": "client-id", "entity_name": "x"}],
         "ops": [{"key": "retention.ms", "value": 1.0, "remove": False}]},
        {"entity": [{"entity_type": "client-id", "entity_name": "y"}],
         "ops": [{"key": "producer_byte_rate", "value": 10.0, "remove": False}]},
    ], validate_only=True)
    assert [e["error_code"] for e in body["entries"]] == [INVALID_REQUEST, INVALID_REQUEST, 0]
    assert "must be a Long value" in body["entries"][0]["error_message"]
    assert len(describe(bs, 0, [{"entity_type": "client-id", "match_type": 0, "match": "y"}])["entries"]) == 0
    # Removal keeps the other keys; kept across a restart in the standalone store.
    run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "app",
             "--alter", "--delete-config", "consumer_byte_rate")
    broker.stop()
    broker.start()
    out = run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "app",
                   "--describe").stdout
    assert out == "Quota configs for client-id 'app' are producer_byte_rate=1024.0\n"
    doc = json.loads((broker.data_dir / "strom-metadata.json").read_text())
    assert doc["entity_configs"]["clients/app"] == {"producer_byte_rate": "1024"}


def test_quotas_in_zookeeper_merge_with_scram_credentials(make_broker, zookeeper):
    k = zookeeper.kazoo()
    try:
        broker = make_broker({"zookeeper.connect": zookeeper.connect, "zookeeper.session.timeout.ms": "6000"})
        scram = "salt=c2FsdA==,stored_key=a2V5,server_key=c2s=,iterations=4096"
        k.set("/config/users", b"") if k.exists("/config/users") else None
        k.create("/config/users/alice", json.dumps({"version": 1, "config": {"SCRAM-SHA-256": scram}}).encode())
        bs = broker.bootstrap
        run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "alice",
                 "--alter", "--add-config", "producer_byte_rate=1024")
        run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "my app",
                 "--alter", "--add-config", "consumer_byte_rate=2048")
        doc = json.loads(k.get("/config/users/alice")[0])
        assert doc == {"version": 1, "config": {"SCRAM-SHA-256": scram, "producer_byte_rate": "1024"}}
        doc = json.loads(k.get("/config/clients/my%20app")[0])
        assert doc == {"version": 1, "config": {"consumer_byte_rate": "2048"}}
        changes = sorted(k.get_children("/config/changes"))
        paths = [json.loads(k.get(f"/config/changes/{c}")[0]) for c in changes]
        assert {"version": 2, "entity_path": "users/alice"} in paths
        assert {"version": 2, "entity_path": "clients/my%20app"} in paths
        # The SCRAM credential is not a quota: describe lists it apart, as Kafka 3.5's ConfigCommand does.
        out = run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "alice",
                       "--describe").stdout
        assert out == ("Quota configs for user-principal 'alice' are producer_byte_rate=1024.0\n"
                       "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=4096\n")
        run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "alice",
                 "--alter", "--delete-config", "producer_byte_rate")
        assert json.loads(k.get("/config/users/alice")[0]) == {"version": 1, "config": {"SCRAM-SHA-256": scram}}
        # A quota written by another ZooKeeper writer is read back.
        k.create("/config/clients/other", json.dumps({"version": 1, "config": {"producer_byte_rate": "77"}}).encode())
        out = run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "other",
                       "--describe").stdout
        assert out == "Quota configs for client-id 'other' are producer_byte_rate=77.0\n"
    finally:
        k.stop()


def test_producer_and_consumer_throttled_to_their_byte_rates(make_broker):
    # Two samples of one second: the rate is measured over 1-2 s, so a few
    # seconds show the steady state (Kafka's default, 11 samples, allows a
    # 10-second burst first).
    broker = make_broker({"quota.window.num": "2", "quota.window.size.seconds": "1"})
    bs = broker.bootstrap
    create_topic(bs, "slow", partitions=1)
    quota = 200_000
    run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "clients", "--entity-name", "slowpoke",
             "--alter", "--add-config", f"producer_byte_rate={quota},consumer_byte_rate={quota}")
    throttles = []
    acked = []
    p = ck.Producer({"bootstrap.servers": bs, "broker.address.family": "v4", "client.id": "slowpoke",
                     "linger.ms": 5, "batch.size": 16384, "queue.buffering.max.kbytes": 512, "throttle_cb": lambda ev: throttles.append(ev.throttle_time),
                     "statistics.interval.ms": 0})
    value = b"x" * 1000
    start = time.monotonic()
    duration = 5.0
    def delivered(err, m):
        if err is None:
            acked.append((time.monotonic(), len(m.value())))

    while time.monotonic() - start < duration:
        for _ in range(100):
            try:
                p.produce("slow", value=value, on_delivery=delivered)
            except BufferError:
                break
        p.poll(0.005)
    elapsed = time.monotonic() - start
    p.purge(in_queue=True)
    p.flush(15)
    in_time = sum(n for t, n in acked if t - start <= elapsed)
    rate = in_time / elapsed
    assert throttles and max(throttles) > 0, "the producer saw no throttle time"
    # Bytes of values only (the quota counts whole requests): at most the
    # quota plus one window's burst, and not far below it.
    print(f"produce: {rate:.0f} B/s for a quota of {quota} B/s, max throttle {max(throttles)} ms")
    assert 0.4 * quota < rate < 1.5 * quota, f"produce rate {rate:.0f} B/s for a quota of {quota} B/s"

    # Unthrottled client ids are not slowed down.
    fast = ck.Producer({"bootstrap.servers": bs, "broker.address.family": "v4", "client.id": "fast", "linger.ms": 5})
    t0 = time.monotonic()
    for _ in range(3000):
        fast.produce("slow", value=value)
        fast.poll(0)
    assert fast.flush(30) == 0
    assert 3_000_000 / (time.monotonic() - t0) > 3 * quota

    # The consumer with the same client id reads at about its consumer_byte_rate.
    consumer_throttles = []
    c = ck.Consumer({"bootstrap.servers": bs, "broker.address.family": "v4", "client.id": "slowpoke",
                     "group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "throttle_cb": lambda ev: consumer_throttles.append(ev.throttle_time),
                     "fetch.max.bytes": 1 << 20})
    c.subscribe(["slow"])
    got = 0
    t0 = time.monotonic()
    first = None
    while time.monotonic() - t0 < 8.0:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        if first is None:
            first = time.monotonic()
        got += len(m.value())
        if first and time.monotonic() - first > 4.0:
            break
    read_for = time.monotonic() - (first or t0)
    c.close()
    assert consumer_throttles and max(consumer_throttles) > 0, "the consumer saw no throttle time"
    print(f"consume: {got / read_for:.0f} B/s, max throttle {max(consumer_throttles or [0])} ms")
    assert got / read_for < 2.0 * quota, f"consume rate {got / read_for:.0f} B/s for a quota of {quota} B/s"

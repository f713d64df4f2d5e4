"""ZooKeeper mode: strom registers and keeps its metadata in a real ZooKeeper
(Debian's package, started per test) where and how Kafka 3.5 does; kazoo
reads the znodes back and checks them against Kafka's formats."""

import json
import re
import threading
import time

import pytest

from conftest import admin_client, consume_all, create_topic, free_port, need_module, wait_until

ck = need_module("confluent_kafka")
ck_admin = need_module("confluent_kafka.admin")
need_module("kazoo.client")

from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic, ResourceType  # noqa: E402

pytestmark = pytest.mark.timeout(120)

SESSION_MS = 6000
CHROOT = "/kafka"
B64_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
PERSISTENT_PATHS = [
    "/consumers", "/brokers/ids", "/brokers/topics", "/brokers/seqid", "/config/changes", "/config/topics",
    "/config/clients", "/config/users", "/config/brokers", "/config/ips", "/admin/delete_topics",
    "/isr_change_notification", "/latest_producer_id_block", "/log_dir_event_notification",
]


def zk_overrides(zookeeper, chroot=CHROOT, **extra):
    o = {
        "zookeeper.connect": zookeeper.connect + chroot,
        "zookeeper.session.timeout.ms": str(SESSION_MS),
        "zookeeper.connection.timeout.ms": str(SESSION_MS),
    }
    o.update(extra)
    return o


def read_json(k, path):
    data, stat = k.get(path)
    return json.loads(data), stat


def exists(k, path):
    return k.exists(path) is not None


def check_broker_znode(k, broker, rack=None):
    doc, stat = read_json(k, "/brokers/ids/1")
    assert stat.ephemeralOwner != 0, "/brokers/ids/1 must be ephemeral"
    expected_keys = {"features", "listener_security_protocol_map", "endpoints", "jmx_port", "port", "host", "version", "timestamp"}
    if rack:
        expected_keys.add("rack")
    assert set(doc) == expected_keys, doc
    assert doc["version"] == 5 and doc["jmx_port"] == -1 and doc["features"] == {}
    # No listener is named PLAINTEXT: host null, port -1, as Kafka writes.
    assert doc["host"] is None and doc["port"] == -1
    assert doc["endpoints"] == [f"EXTERNAL://127.0.0.1:{broker.external_port}", f"INTERNAL://localhost:{broker.internal_port}"]
    assert doc["listener_security_protocol_map"] == {"EXTERNAL": "PLAINTEXT", "INTERNAL": "PLAINTEXT"}
    assert isinstance(doc["timestamp"], str) and doc["timestamp"].isdigit()
    assert abs(int(doc["timestamp"]) - time.time() * 1000) < 600_000
    if rack:
        assert doc["rack"] == rack
    return doc


def test_znodes_in_kafkas_format(make_broker, zookeeper):
    broker = make_broker(zk_overrides(zookeeper, **{"broker.rack": "rack-a"}))
    create_topic(broker.bootstrap, "zk-format", partitions=2, config={"retention.ms": "86400000"})
    root = zookeeper.kazoo()
    try:
        # Everything lives under the chroot, which the broker created.
        assert "kafka" in root.get_children("/")
        assert not exists(root, "/brokers")
    finally:
        root.stop()
    k = zookeeper.kazoo(CHROOT)
    try:
        for path in PERSISTENT_PATHS:
            assert exists(k, path), path
        cluster, _ = read_json(k, "/cluster/id")
        assert cluster["version"] == "1" and B64_ID.match(cluster["id"]), cluster
        # Both listeners report the cluster id from ZooKeeper.
        for bootstrap in (broker.bootstrap, broker.internal_bootstrap):
            md = admin_client(bootstrap).list_topics(timeout=10)
            assert md.cluster_id == cluster["id"]
            assert md.controller_id == 1

        check_broker_znode(k, broker, rack="rack-a")

        controller, cstat = read_json(k, "/controller")
        assert cstat.ephemeralOwner != 0
        assert set(controller) == {"version", "brokerid", "timestamp", "kraftControllerEpoch"}
        assert controller["version"] == 2 and controller["brokerid"] == 1 and controller["kraftControllerEpoch"] == -1
        assert isinstance(controller["timestamp"], str)
        epoch_raw, _ = k.get("/controller_epoch")
        assert int(epoch_raw) >= 1

        topic, _ = read_json(k, "/brokers/topics/zk-format")
        assert topic["version"] == 3
        assert topic["partitions"] == {"0": [1], "1": [1]}
        assert topic["adding_replicas"] == {} and topic["removing_replicas"] == {}
        assert B64_ID.match(topic["topic_id"])
        assert sorted(k.get_children("/brokers/topics/zk-format/partitions")) == ["0", "1"]
        for p in ("0", "1"):
            state, _ = read_json(k, f"/brokers/topics/zk-format/partitions/{p}/state")
            assert state == {"controller_epoch": state["controller_epoch"], "leader": 1, "version": 1, "leader_epoch": 0, "isr": [1]}
            assert state["controller_epoch"] >= 1
        config, _ = read_json(k, "/config/topics/zk-format")
        assert config == {"version": 1, "config": {"retention.ms": "86400000"}}
        # meta.properties in the log dir records ZooKeeper's cluster id.
        props = (broker.data_dir / "meta.properties").read_text()
        assert f"cluster.id={cluster['id']}" in props and "broker.id=1" in props
    finally:
        k.stop()
    # A clean shutdown removes the registration at once.
    broker.stop()
    k = zookeeper.kazoo(CHROOT)
    try:
        assert not exists(k, "/brokers/ids/1")
        assert not exists(k, "/controller")
    finally:
        k.stop()


def test_topic_create_alter_delete_in_zookeeper(make_broker, zookeeper):
    broker = make_broker(zk_overrides(zookeeper))
    admin = create_topic(broker.bootstrap, "zk-life", partitions=2)
    k = zookeeper.kazoo(CHROOT)
    try:
        topic, _ = read_json(k, "/brokers/topics/zk-life")
        assert topic["partitions"] == {"0": [1], "1": [1]}
        topic_id = topic["topic_id"]
        assert read_json(k, "/config/topics/zk-life")[0] == {"version": 1, "config": {}}
        changes_before = set(k.get_children("/config/changes"))

        # Alter: config override, then more partitions.
        res = ConfigResource(ResourceType.TOPIC, "zk-life", incremental_configs=[
            ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
        admin.incremental_alter_configs([res])[res].result(20)
        wait_until(lambda: read_json(k, "/config/topics/zk-life")[0]["config"] == {"retention.ms": "3600000"}, 10, "config in ZooKeeper")
        new = sorted(set(k.get_children("/config/changes")) - changes_before)
        assert len(new) == 1 and re.match(r"^config_change_\d{10}$", new[0]), new
        assert read_json(k, f"/config/changes/{new[0]}")[0] == {"version": 2, "entity_path": "topics/zk-life"}

        admin.create_partitions([NewPartitions("zk-life", 4)])["zk-life"].result(20)
        topic, _ = read_json(k, "/brokers/topics/zk-life")
        assert topic["partitions"] == {"0": [1], "1": [1], "2": [1], "3": [1]}
        assert topic["topic_id"] == topic_id
        assert sorted(k.get_children("/brokers/topics/zk-life/partitions")) == ["0", "1", "2", "3"]

        # Delete: everything goes, including the deletion marker.
        admin.delete_topics(["zk-life"], operation_timeout=20)["zk-life"].result(20)
        assert not exists(k, "/brokers/topics/zk-life")
        assert not exists(k, "/config/topics/zk-life")
        assert not exists(k, "/admin/delete_topics/zk-life")
        assert "zk-life" not in admin.list_topics(timeout=10).topics
    finally:
        k.stop()


def test_other_writers_and_restart_reconcile(make_broker, zookeeper):
    """Topics written by another ZooKeeper client show up; a topic deleted in
    ZooKeeper while the broker is down is deleted locally on start."""
    broker = make_broker(zk_overrides(zookeeper))
    create_topic(broker.bootstrap, "zk-doomed", partitions=1)
    k = zookeeper.kazoo(CHROOT)
    try:
        # Created by another writer, as Kafka's AdminZkClient would (no topic id: the broker assigns one).
        k.create("/config/topics/zk-external", json.dumps({"version": 1, "config": {"cleanup.policy": "delete"}}).encode())
        k.create("/brokers/topics/zk-external", json.dumps({"version": 1, "partitions": {"0": [1], "1": [1]}}).encode())
        admin = admin_client(broker.bootstrap)
        wait_until(lambda: len(admin.list_topics(timeout=5).topics.get("zk-external").partitions) == 2
                   if "zk-external" in admin.list_topics(timeout=5).topics else False, 15, "externally created topic")
        wait_until(lambda: B64_ID.match(read_json(k, "/brokers/topics/zk-external")[0].get("topic_id", "")), 10, "topic id written back")

        broker.stop()
        assert (broker.data_dir / "zk-doomed-0").is_dir()
        k.delete("/brokers/topics/zk-doomed", recursive=True)
        k.delete("/config/topics/zk-doomed")
        broker.start()
        md = admin.list_topics(timeout=10)
        assert "zk-doomed" not in md.topics and "zk-external" in md.topics
        assert not (broker.data_dir / "zk-doomed-0").exists()
    finally:
        k.stop()


class Producing:
    """A confluent-kafka producer sending continuously in a thread, counting acknowledgements."""

    def __init__(self, bootstrap, topic):
        self.producer = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "linger.ms": 5,
                                     "message.timeout.ms": 30000})
        self.topic = topic
        self.acked = 0
        self.errors = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_delivery(self, err, msg):
        if err is not None:
            self.errors.append(err)
        else:
            self.acked += 1

    def run(self):
        i = 0
        while not self.stopping.is_set():
            self.producer.produce(self.topic, value=f"m{i}".encode(), on_delivery=self.on_delivery)
            i += 1
            self.producer.poll(0.01)
        self.producer.flush(30)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(40)


def test_zookeeper_outage_keeps_producing(make_broker, zookeeper):
    broker = make_broker(zk_overrides(zookeeper))
    admin = create_topic(broker.bootstrap, "zk-outage", partitions=2)
    with Producing(broker.bootstrap, "zk-outage") as producing:
        wait_until(lambda: producing.acked > 20, 15, "first acknowledgements")
        zookeeper.stop()
        during = producing.acked
        wait_until(lambda: producing.acked > during + 50, 10, "acknowledgements while ZooKeeper is down")
        # Metadata changes fail with a retriable error while ZooKeeper is away.
        fut = admin.create_topics([NewTopic("zk-during-outage", num_partitions=1, replication_factor=1)],
                                  operation_timeout=5, request_timeout=10)["zk-during-outage"]
        with pytest.raises(ck.KafkaException) as e:
            fut.result(20)
        err = e.value.args[0]
        # REQUEST_TIMED_OUT is retriable in Kafka (a TimeoutException); librdkafka
        # does not set retriable() on per-topic admin results.
        assert err.code() == ck.KafkaError.REQUEST_TIMED_OUT, err
        broker.check_alive()
        zookeeper.start()
        restarted = time.monotonic()
        k = zookeeper.kazoo(CHROOT)
        try:
            # The broker's session is back (resumed, or a new one) within the
            # session timeout, and /brokers/ids/1 belongs to it.
            wait_until(lambda: "reconnected to ZooKeeper; session resumed" in broker.log_path.read_text()
                       or "new ZooKeeper session established" in broker.log_path.read_text(),
                       SESSION_MS / 1000, "the broker's ZooKeeper session back")
            wait_until(lambda: exists(k, "/brokers/ids/1"), SESSION_MS / 1000, "registration back")
            assert time.monotonic() - restarted < SESSION_MS / 1000 + 1
            check_broker_znode(k, broker)
        finally:
            k.stop()
        after = producing.acked
        wait_until(lambda: producing.acked > after + 20, 10, "acknowledgements after ZooKeeper is back")
    assert not producing.errors, producing.errors[:5]
    # Metadata changes work again.
    create_topic(broker.bootstrap, "zk-after-outage", partitions=1)
    got = consume_all(broker.bootstrap, "zk-outage", [0, 1])
    assert sum(len(v) for v in got.values()) == producing.acked


def test_session_expiry_recreates_what_the_broker_owns(make_broker, zookeeper):
    broker = make_broker(zk_overrides(zookeeper))
    create_topic(broker.bootstrap, "zk-survivor", partitions=3, config={"retention.ms": "7200000"})
    k = zookeeper.kazoo(CHROOT)
    try:
        cluster_id = read_json(k, "/cluster/id")[0]["id"]
        topic_id = read_json(k, "/brokers/topics/zk-survivor")[0]["topic_id"]
    finally:
        k.stop()
    # A fresh data dir: the old session and every znode are gone.
    zookeeper.restart(fresh=True)
    root = zookeeper.kazoo()
    try:
        wait_until(lambda: root.exists(CHROOT + "/brokers/ids/1") is not None, SESSION_MS / 1000 + 10, "registration in the new session")
        wait_until(lambda: root.exists(CHROOT + "/brokers/topics/zk-survivor/partitions/2/state") is not None, 10, "topic re-created")
    finally:
        root.stop()
    k = zookeeper.kazoo(CHROOT)
    try:
        assert read_json(k, "/cluster/id")[0] == {"version": "1", "id": cluster_id}
        topic = read_json(k, "/brokers/topics/zk-survivor")[0]
        assert topic["topic_id"] == topic_id and topic["partitions"] == {"0": [1], "1": [1], "2": [1]}
        assert read_json(k, "/config/topics/zk-survivor")[0]["config"] == {"retention.ms": "7200000"}
        assert read_json(k, "/controller")[0]["brokerid"] == 1
        for path in PERSISTENT_PATHS:
            assert exists(k, path), path
        check_broker_znode(k, broker)
    finally:
        k.stop()
    log = broker.log_path.read_text()
    assert "ZooKeeper lost the cluster state" in log
    assert "re-created the broker registration" in log
    broker.check_alive()
    # The broker still serves and accepts changes.
    create_topic(broker.bootstrap, "zk-after-expiry", partitions=1)


def test_emptied_zookeeper_at_start_restores_the_topics(make_broker, zookeeper):
    """A broker whose log dirs belong to a cluster, started against a
    ZooKeeper without that cluster's state (emptied, or the wrong chroot),
    does what it does when that happens while it runs: it restores the
    topics it holds, with their ids and configs, and serves them; their logs
    are never deleted and never dropped from Metadata."""
    broker = make_broker(zk_overrides(zookeeper))
    create_topic(broker.bootstrap, "zk-precious", partitions=2, config={"retention.ms": "7200000"})
    k = zookeeper.kazoo(CHROOT)
    try:
        cluster_id = read_json(k, "/cluster/id")[0]["id"]
        topic_id = read_json(k, "/brokers/topics/zk-precious")[0]["topic_id"]
    finally:
        k.stop()
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4"})
    for i in range(10):
        p.produce("zk-precious", value=f"v{i}".encode(), partition=i % 2)
    assert p.flush(15) == 0
    broker.stop()
    zookeeper.restart(fresh=True)
    broker.start()

    k = zookeeper.kazoo(CHROOT)
    try:
        assert read_json(k, "/cluster/id")[0] == {"version": "1", "id": cluster_id}
        topic = read_json(k, "/brokers/topics/zk-precious")[0]
        assert topic["topic_id"] == topic_id and topic["partitions"] == {"0": [1], "1": [1]}
        assert read_json(k, "/config/topics/zk-precious")[0]["config"] == {"retention.ms": "7200000"}
    finally:
        k.stop()
    md = admin_client(broker.bootstrap).list_topics(timeout=15)
    assert sorted(md.topics["zk-precious"].partitions) == [0, 1]
    got = consume_all(broker.bootstrap, "zk-precious", [0, 1])
    assert sorted(m.value() for ms in got.values() for m in ms) == sorted(f"v{i}".encode() for i in range(10))
    assert "restored topic zk-precious in ZooKeeper" in broker.log_path.read_text()
    broker.check_alive()


def test_second_broker_with_same_id_refuses_to_start(make_broker, zookeeper):
    first = make_broker(zk_overrides(zookeeper))
    second = make_broker(zk_overrides(zookeeper), start=False)
    with pytest.raises(AssertionError):
        second.start(timeout=20)
    assert second.proc.returncode not in (None, 0)
    log = second.log_path.read_text()
    assert "broker.id 1 is already registered" in log, log[-2000:]
    first.check_alive()
    k = zookeeper.kazoo(CHROOT)
    try:
        check_broker_znode(k, first)
    finally:
        k.stop()


def test_unreachable_zookeeper_exits_naming_the_address(make_broker):
    address = f"127.0.0.1:{free_port()}"
    broker = make_broker({"zookeeper.connect": address, "zookeeper.session.timeout.ms": "6000",
                          "zookeeper.connection.timeout.ms": "2000"}, start=False)
    started = time.monotonic()
    with pytest.raises(AssertionError):
        broker.start(timeout=20)
    assert time.monotonic() - started < 15
    assert broker.proc.returncode not in (None, 0)
    log = broker.log_path.read_text()
    assert f"cannot connect to ZooKeeper at {address}" in log, log[-2000:]


def _raw_request(port: int, api_key: int, version: int, body: bytes) -> bytes:
    """One classic (header v1) request on a fresh connection; the response body."""
    import socket
    import struct

    client = b"zk-v0"
    frame = struct.pack(">hhih", api_key, version, 7, len(client)) + client + body
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        head = sock.recv(4, socket.MSG_WAITALL)
        assert len(head) == 4, "connection closed instead of an answer"
        (size,) = struct.unpack(">i", head)
        data = sock.recv(size, socket.MSG_WAITALL)
    assert struct.unpack(">i", data[:4])[0] == 7
    return data[4:]


def test_offset_commit_v0_lives_in_zookeeper(make_broker, zookeeper):
    """Kafka 3.5 keeps OffsetCommit v0 offsets at /consumers/<group>/offsets/<topic>/<partition>
    in ZooKeeper mode, and OffsetFetch v0 reads them there (not from __consumer_offsets)."""
    import struct

    broker = make_broker(zk_overrides(zookeeper))
    create_topic(broker.bootstrap, "zk-v0", partitions=1)

    def s(x: str) -> bytes:
        return struct.pack(">h", len(x)) + x.encode()

    commit = s("old-group") + struct.pack(">i", 1) + s("zk-v0") + struct.pack(">iiq", 2, 0, 42) + s("m")
    commit += struct.pack(">iq", 7, 1) + s("")  # partition 7 does not exist
    r = _raw_request(broker.external_port, 8, 0, commit)
    # topics[name, partitions[index, error]]
    assert r == struct.pack(">i", 1) + s("zk-v0") + struct.pack(">iihih", 2, 0, 0, 7, 3), r.hex()
    k = zookeeper.kazoo(CHROOT)
    try:
        data, _ = k.get("/consumers/old-group/offsets/zk-v0/0")
        assert data == b"42"
        assert not exists(k, "/consumers/old-group/offsets/zk-v0/7")
    finally:
        k.stop()
    fetch = s("old-group") + struct.pack(">i", 1) + s("zk-v0") + struct.pack(">iii", 2, 0, 1)
    r = _raw_request(broker.external_port, 9, 0, fetch)
    expected = struct.pack(">i", 1) + s("zk-v0") + struct.pack(">i", 2)
    expected += struct.pack(">iq", 0, 42) + s("") + struct.pack(">h", 0)
    expected += struct.pack(">iq", 1, -1) + s("") + struct.pack(">h", 0)
    assert r == expected, r.hex()
    # The group coordinator never saw the v0 commit: OffsetFetch v1 reads the offsets log.
    r = _raw_request(broker.external_port, 9, 1, fetch)
    assert struct.pack(">iq", 0, -1) in r, r.hex()

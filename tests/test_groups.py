"""Consumer groups and committed offsets (issue 3): failover with
confluent-kafka, kafka-python and aiokafka consumers run as subprocesses
(so they can be SIGKILLed), incremental cooperative rebalancing, static
membership, offsets across a broker restart, and the AdminClient's view."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import admin_client, create_topic, need_module, read_frame, wait_until

ck = need_module("confluent_kafka")
ck_admin = need_module("confluent_kafka.admin")

HERE = Path(__file__).resolve().parent
SESSION_MS = 6000
GROUP_OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


class ConsumerProc:
    """tests/group_consumer.py in a subprocess; its JSON events collected by a thread."""

    def __init__(self, client, bootstrap, topic, group, *extra):
        self.cmd = [sys.executable, str(HERE / "group_consumer.py"), client, bootstrap, topic, group, *extra]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.events = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(ev)

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def current(self):
        parts = set()
        for ev in self.snapshot():
            if ev["ev"] == "assign":
                parts = set(ev["parts"]) if ev.get("full", True) else parts | set(ev["parts"])
            elif ev["ev"] == "revoke":
                parts -= set(ev["parts"])
        return parts

    def assigned_once(self):
        return any(ev["ev"] == "assign" for ev in self.snapshot())

    def messages(self):
        return [(ev["p"], ev["o"], ev["v"]) for ev in self.snapshot() if ev["ev"] == "msg"]

    def last_commits(self):
        last = {}
        for ev in self.snapshot():
            if ev["ev"] == "commit":
                last[ev["p"]] = ev["o"]
        return last

    def kill9(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def stderr_tail(self):
        try:
            return self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.poll() is not None else ""
        except Exception:  # noqa: BLE001
            return ""


def produce(bootstrap, topic, start, end, partitions=3):
    p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "linger.ms": 5})
    for i in range(start, end):
        p.produce(topic, value=f"m-{i}".encode(), partition=i % partitions)
    assert p.flush(30) == 0


def run_failover(broker, client):
    topic, group = f"failover-{client}", f"workers-{client}"
    create_topic(broker.bootstrap, topic, partitions=3)
    produce(broker.bootstrap, topic, 0, 90)
    consumers = [ConsumerProc(client, broker.bootstrap, topic, group) for _ in range(3)]
    try:

        def one_each(cs):
            cur = [c.current() for c in cs]
            return sorted(len(x) for x in cur) == [1] * len(cs) and set().union(*cur) == {0, 1, 2}

        wait_until(lambda: one_each(consumers), 60, f"{client}: three consumers with one partition each")
        fourth = ConsumerProc(client, broker.bootstrap, topic, group)
        consumers.append(fourth)

        def settled():
            cur = [c.current() for c in consumers]
            return (
                fourth.assigned_once()
                and sum(len(x) for x in cur) == 3
                and set().union(*cur) == {0, 1, 2}
                and max(len(x) for x in cur) == 1
            )

        wait_until(settled, 60, f"{client}: four members, one idle")
        produce(broker.bootstrap, topic, 90, 180)
        wait_until(lambda: len({m[2] for c in consumers for m in c.messages()}) >= 150, 30, "consuming")
        victim = next(c for c in consumers if c.current())
        (victim_partition,) = victim.current()
        victim.kill9()
        killed_at = time.monotonic()
        survivors = [c for c in consumers if c is not victim]
        wait_until(
            lambda: any(victim_partition in c.current() for c in survivors),
            SESSION_MS / 1000 + 15,
            f"{client}: partition {victim_partition} of the killed member moving to a survivor",
        )
        moved_after = time.monotonic() - killed_at
        # Detection takes at most the session timeout; the rebalance itself a few heartbeats.
        assert moved_after < SESSION_MS / 1000 + 5, f"partition moved after {moved_after:.1f}s"
        produce(broker.bootstrap, topic, 180, 270)
        expected = {f"m-{i}" for i in range(270)}
        wait_until(lambda: expected <= {m[2] for c in consumers for m in c.messages()}, 60, f"{client}: every message consumed")
        # Duplicates only where the killed member had not committed yet.
        seen = {}
        for c in consumers:
            for p, o, _ in c.messages():
                seen[(p, o)] = seen.get((p, o), 0) + 1
        committed = victim.last_commits().get(victim_partition, 0)
        dups = sorted(k for k, n in seen.items() if n > 1)
        bad = [(p, o) for p, o in dups if p != victim_partition or o < committed]
        assert not bad, f"{client}: duplicates outside the uncommitted window (commit {committed}): {bad[:10]}"
    finally:
        for c in consumers:
            c.stop()


def test_confluent_kafka_group_failover(make_broker):
    run_failover(make_broker(GROUP_OVERRIDES), "confluent")


def test_kafka_python_group_failover(make_broker):
    need_module("kafka")
    run_failover(make_broker(GROUP_OVERRIDES), "kafka-python")


def test_aiokafka_group_failover(make_broker):
    need_module("aiokafka")
    run_failover(make_broker(GROUP_OVERRIDES), "aiokafka")


def test_cooperative_sticky_rebalances_incrementally(make_broker):
    broker = make_broker(GROUP_OVERRIDES)
    topic, group = "coop", "coop-group"
    create_topic(broker.bootstrap, topic, partitions=3)
    extra = ("--assignor", "cooperative-sticky")
    a = ConsumerProc("confluent", broker.bootstrap, topic, group, *extra)
    b = ConsumerProc("confluent", broker.bootstrap, topic, group, *extra)
    cs = [a, b]
    try:
        wait_until(lambda: a.current() and b.current() and (a.current() | b.current()) == {0, 1, 2}, 60, "two cooperative members")
        before = {id(c): len(c.snapshot()) for c in cs}
        c3 = ConsumerProc("confluent", broker.bootstrap, topic, group, *extra)
        cs.append(c3)
        wait_until(lambda: all(len(c.current()) == 1 for c in cs), 60, "three cooperative members with one partition each")
        revoked = []
        for c in (a, b):
            for ev in c.snapshot()[before[id(c)]:]:
                if ev["ev"] == "revoke":
                    revoked += ev["parts"]
        # Eager rebalancing would revoke all three partitions; cooperative only the one that moves.
        assert len(revoked) == 1, f"revoked {revoked}"
    finally:
        for c in cs:
            c.stop()


def test_static_member_restart_keeps_partitions_without_rebalance(make_broker):
    broker = make_broker(GROUP_OVERRIDES)
    topic, group = "static", "static-group"
    create_topic(broker.bootstrap, topic, partitions=3)
    extra = ("--session-ms", "10000")
    a = ConsumerProc("confluent", broker.bootstrap, topic, group, "--instance", "worker-a", *extra)
    b = ConsumerProc("confluent", broker.bootstrap, topic, group, "--instance", "worker-b", *extra)
    procs = [a, b]
    try:
        wait_until(lambda: a.current() and b.current() and (a.current() | b.current()) == {0, 1, 2}, 60, "two static members")
        time.sleep(1.0)
        b_parts = b.current()
        a_events = len(a.snapshot())
        b.kill9()
        b2 = ConsumerProc("confluent", broker.bootstrap, topic, group, "--instance", "worker-b", *extra)
        procs.append(b2)
        wait_until(lambda: b2.current() == b_parts, 9, "the restarted static member getting its partitions back")
        time.sleep(2.0)
        later = [ev for ev in a.snapshot()[a_events:] if ev["ev"] in ("assign", "revoke")]
        assert not later, f"the other member was rebalanced: {later}"
        admin = admin_client(broker.bootstrap)  # keep a reference: a dropped client never completes its futures
        desc = admin.describe_consumer_groups([group])[group].result(10)
        assert len(desc.members) == 2
        assert sorted(m.group_instance_id for m in desc.members) == ["worker-a", "worker-b"]
    finally:
        for p in procs:
            p.stop()


def group_consumer(bootstrap, group, **conf):
    c = {
        "bootstrap.servers": bootstrap,
        "broker.address.family": "v4",
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
    }
    c.update(conf)
    return ck.Consumer(c)


def test_committed_offsets_survive_restart(make_broker):
    broker = make_broker(GROUP_OVERRIDES)
    topic, group = "restart-offsets", "restart-group"
    create_topic(broker.bootstrap, topic, partitions=3)
    produce(broker.bootstrap, topic, 0, 300)
    c = group_consumer(broker.bootstrap, group)
    c.commit(
        offsets=[
            ck.TopicPartition(topic, 0, 42, metadata="meta-42", leader_epoch=0),
            ck.TopicPartition(topic, 1, 7),
        ],
        asynchronous=False,
    )
    c.close()
    for restart in (broker.stop, broker.kill9):
        restart()
        broker.start()
        c = group_consumer(broker.bootstrap, group)
        got = {tp.partition: tp for tp in c.committed([ck.TopicPartition(topic, p) for p in range(3)], timeout=30)}
        assert got[0].offset == 42 and got[0].metadata == "meta-42", got[0]
        assert got[0].leader_epoch == 0
        assert got[1].offset == 7
        assert got[2].offset == ck.OFFSET_INVALID
        c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_STORED)])
        first = None
        deadline = time.monotonic() + 30
        while first is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                first = m
        assert first is not None and first.offset() == 42, first
        c.close()


def offset_delete(bootstrap_port, group, topic, partitions):
    """OffsetDelete v0 by hand (confluent-kafka's AdminClient has no call for it)."""

    def s(x):
        b = x.encode()
        return struct.pack(">h", len(b)) + b

    body = s(group) + struct.pack(">i", 1) + s(topic) + struct.pack(">i", len(partitions))
    body += b"".join(struct.pack(">i", p) for p in partitions)
    header = struct.pack(">hhi", 47, 0, 99) + s("strom-tests")
    frame = header + body
    with socket.create_connection(("127.0.0.1", bootstrap_port), timeout=10) as sock:
        sock.sendall(struct.pack(">i", len(frame)) + frame)
        resp = read_frame(sock)
    cid, error, _throttle, ntopics = struct.unpack_from(">ihii", resp, 0)
    assert cid == 99
    pos = 14
    out = {}
    for _ in range(ntopics):
        (n,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + n
        (np_,) = struct.unpack_from(">i", resp, pos)
        pos += 4
        for _ in range(np_):
            p, e = struct.unpack_from(">ih", resp, pos)
            pos += 6
            out[p] = e
    return error, out


def test_admin_client_lists_describes_and_deletes_groups(make_broker):
    broker = make_broker(GROUP_OVERRIDES)
    topic, group = "admin-groups", "admin-group"
    create_topic(broker.bootstrap, topic, partitions=3)
    produce(broker.bootstrap, topic, 0, 30)
    admin = admin_client(broker.bootstrap)
    c = group_consumer(broker.bootstrap, group)
    c.subscribe([topic])
    deadline = time.monotonic() + 30
    while len(c.assignment()) < 3 and time.monotonic() < deadline:
        c.poll(0.2)
    assert len(c.assignment()) == 3
    c.commit(offsets=[ck.TopicPartition(topic, 0, 5), ck.TopicPartition(topic, 1, 7), ck.TopicPartition(topic, 2, 10)], asynchronous=False)

    listed = admin.list_consumer_groups().result(10)
    mine = [g for g in listed.valid if g.group_id == group]
    assert mine and mine[0].state == ck.ConsumerGroupState.STABLE, listed.valid
    desc = admin.describe_consumer_groups([group])[group].result(10)
    assert desc.state == ck.ConsumerGroupState.STABLE
    assert len(desc.members) == 1
    assigned = sorted((tp.topic, tp.partition) for tp in desc.members[0].assignment.topic_partitions)
    assert assigned == [(topic, 0), (topic, 1), (topic, 2)]
    req = [ck.ConsumerGroupTopicPartitions(group, [ck.TopicPartition(topic, p) for p in range(3)])]
    offsets = admin.list_consumer_group_offsets(req)[group].result(10)
    committed = {tp.partition: tp.offset for tp in offsets.topic_partitions}
    assert committed == {0: 5, 1: 7, 2: 10}
    lag = {}
    for p in range(3):
        _lo, hi = c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)
        lag[p] = hi - committed[p]
    assert lag == {0: 5, 1: 3, 2: 0}

    # A group with members cannot be deleted.
    res = admin.delete_consumer_groups([group])[group]
    with pytest.raises(ck.KafkaException) as e:
        res.result(10)
    assert e.value.args[0].code() == ck.KafkaError.NON_EMPTY_GROUP
    c.close()
    wait_until(
        lambda: admin.describe_consumer_groups([group])[group].result(10).state == ck.ConsumerGroupState.EMPTY,
        15,
        "the group to be empty",
    )
    error, parts = offset_delete(broker.external_port, group, topic, [1])
    assert error == 0 and parts == {1: 0}
    offsets = admin.list_consumer_group_offsets(req)[group].result(10)
    committed = {tp.partition: tp.offset for tp in offsets.topic_partitions}
    assert committed == {0: 5, 1: ck.OFFSET_INVALID, 2: 10}

    admin.delete_consumer_groups([group])[group].result(10)
    listed = admin.list_consumer_groups().result(10)
    assert group not in [g.group_id for g in listed.valid]
    offsets = admin.list_consumer_group_offsets(req)[group].result(10)
    assert all(tp.offset == ck.OFFSET_INVALID for tp in offsets.topic_partitions)
    # __consumer_offsets is internal.
    md = admin.list_topics(timeout=10)
    assert "__consumer_offsets" in md.topics

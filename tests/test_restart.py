"""Graceful restart: topics, config overrides and every message survive; new
messages continue at the next offset."""

import time

import pytest

from conftest import admin_client, assert_dense_offsets, consume_all, create_topic, kcat, need_module, wait_until

ck = need_module("confluent_kafka")
from confluent_kafka.admin import ConfigResource, ConfigSource, ResourceType  # noqa: E402

N = 1000
PARTITIONS = 3


def produce(bootstrap, topic, start, count):
    delivered, errors = {}, []

    def cb(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered[int(msg.value().split(b"-")[1])] = (msg.partition(), msg.offset())

    p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "acks": "all", "linger.ms": 5})
    for i in range(start, start + count):
        p.produce(topic, key=f"k{i % 17}".encode(), value=f"m-{i}".encode(), headers=[("i", str(i).encode())], on_delivery=cb)
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(60) == 0, "messages not delivered within 60s"
    assert not errors, errors[:3]
    assert len(delivered) == count
    return delivered


def test_graceful_restart_keeps_topics_configs_and_messages(broker):
    topic = "restart-me"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS, config={"retention.ms": "123456789"})
    create_topic(broker.bootstrap, "restart-empty", partitions=2)
    create_topic(broker.bootstrap, "restart-deleted", partitions=1)
    admin = admin_client(broker.bootstrap)
    admin.delete_topics(["restart-deleted"], operation_timeout=15)["restart-deleted"].result(15)

    delivered = produce(broker.bootstrap, topic, 0, N)
    before = consume_all(broker.bootstrap, topic, range(PARTITIONS))
    high_before = {p: len(v) for p, v in before.items()}
    assert sum(high_before.values()) == N

    rc = broker.stop()
    assert rc in (0, 143), f"strom exited with {rc} on SIGTERM (expected a graceful exit 0)\n{broker.log_tail()}"
    broker.start()

    admin = admin_client(broker.bootstrap)
    md = admin.list_topics(timeout=15)
    assert "restart-deleted" not in md.topics, "a deleted topic came back after restart"
    assert len(md.topics["restart-empty"].partitions) == 2
    assert sorted(md.topics[topic].partitions) == list(range(PARTITIONS))
    assert all(p.leader == 1 for p in md.topics[topic].partitions.values())

    (f,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)]).values()
    entry = f.result(15)["retention.ms"]
    assert entry.value == "123456789"
    assert int(getattr(entry.source, "value", entry.source)) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    after = consume_all(broker.bootstrap, topic, range(PARTITIONS))
    assert {p: len(v) for p, v in after.items()} == high_before
    assert_dense_offsets(after)
    for p, msgs in after.items():
        for m in msgs:
            i = int(m.value().split(b"-")[1])
            assert delivered[i] == (p, m.offset()), (i, delivered[i], (p, m.offset()))
            assert m.key() == f"k{i % 17}".encode() and m.headers() == [("i", str(i).encode())]

    # New messages continue at the next offset of each partition.
    more = produce(broker.bootstrap, topic, N, 300)
    for p in range(PARTITIONS):
        offs = sorted(o for (pp, o) in more.values() if pp == p)
        if offs:
            assert offs == list(range(high_before[p], high_before[p] + len(offs))), (p, high_before[p], offs[:5])
    final = consume_all(broker.bootstrap, topic, range(PARTITIONS))
    assert sum(len(v) for v in final.values()) == N + 300
    assert_dense_offsets(final)

    # kcat agrees on the last offsets.
    r = kcat("-C", "-b", broker.bootstrap, "-t", topic, "-e", "-o", "beginning", "-q", "-X", "broker.address.family=v4",
             "-f", "%p %o\n", timeout=60)
    last = {}
    for line in r.stdout.decode().split("\n"):
        if line:
            p, o = map(int, line.split())
            last[p] = max(last.get(p, -1), o)
    assert last == {p: len(v) - 1 for p, v in final.items() if v}, last


def test_restart_twice_and_empty_log(broker):
    """Restarting twice in a row, with no writes in between, loses nothing."""
    topic = "restart-twice"
    create_topic(broker.bootstrap, topic, partitions=1)
    produce(broker.bootstrap, topic, 0, 50)
    for _ in range(2):
        broker.stop()
        broker.start()
    wait_until(lambda: topic in admin_client(broker.bootstrap).list_topics(timeout=5).topics, 10, "topic after restart")
    msgs = consume_all(broker.bootstrap, topic, [0])
    assert [m.value() for m in msgs[0]] == [f"m-{i}".encode() for i in range(50)]
    assert_dense_offsets(msgs)


def _recovery_point(data_dir, topic: str, partition: int):
    path = data_dir / "recovery-point-offset-checkpoint"
    if not path.exists():
        return None
    for line in path.read_text().splitlines()[2:]:
        t, p, off = line.rsplit(" ", 2)
        if t == topic and int(p) == partition:
            return int(off)
    return None


@pytest.mark.parametrize("scheduled", [True, False])
def test_scheduled_flush_advances_the_recovery_point(make_broker, scheduled):
    """Kafka's log flusher: with log.flush.scheduler.interval.ms and
    log.flush.interval.ms set, a log that was written and then left alone is
    fsynced on schedule, and its recovery point (checkpointed every
    log.flush.offset.checkpoint.interval.ms) moves to the log end; with
    Kafka's defaults it stays where it was."""
    ck = need_module("confluent_kafka")
    overrides = {"log.flush.offset.checkpoint.interval.ms": "200"}
    if scheduled:
        overrides.update({"log.flush.scheduler.interval.ms": "100", "log.flush.interval.ms": "300"})
    broker = make_broker(extra_overrides=overrides)
    topic = "sched-flush"
    create_topic(broker.bootstrap, topic, partitions=1)
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "acks": "1"})
    for i in range(5):
        p.produce(topic, value=f"m{i}".encode(), partition=0)
    assert p.flush(20) == 0
    if scheduled:
        wait_until(lambda: _recovery_point(broker.data_dir, topic, 0) == 5, 10,
                   "the recovery point checkpoint to reach the log end (5)")
    else:
        time.sleep(1.5)  # several checkpoint intervals
        assert _recovery_point(broker.data_dir, topic, 0) == 0

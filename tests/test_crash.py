"""kill -9 in the middle of a produce run, then restart and recover.

With log.flush.interval.messages=1 every acknowledged message must be there
exactly once. Without it the log must still recover to a clean, dense,
untorn state (and, since a process crash leaves the page cache intact,
acknowledged messages must survive as well, as with Kafka).
"""

import hashlib
import time

from conftest import admin_client, assert_dense_offsets, consume_all, create_topic, need_module

ck = need_module("confluent_kafka")

PARTITIONS = 3
RUN_BEFORE_KILL = 2.0


def make_value(i: int) -> bytes:
    body = f"crash-{i:08d}-" + "p" * (i % 200)
    digest = hashlib.sha256(body.encode()).hexdigest()[:16]
    return f"{body}|{digest}".encode()


def check_value(v: bytes) -> int:
    """Parse a value made by make_value; fail on a torn or corrupt one."""
    body, _, digest = v.decode().rpartition("|")
    assert hashlib.sha256(body.encode()).hexdigest()[:16] == digest, f"corrupt value {v[:80]!r}"
    i = int(body.split("-")[1])
    assert body == f"crash-{i:08d}-" + "p" * (i % 200), f"torn value {v[:80]!r}"
    return i


def produce_then_kill(broker, topic):
    """Produce in a loop; kill -9 the broker after RUN_BEFORE_KILL seconds.

    Returns {i: (partition, offset)} of the messages acknowledged before the
    kill. In-flight messages are purged, never retried against the restarted
    broker, so an acknowledgement always comes from the killed process.
    """
    acked, failed = {}, []

    def cb(err, msg):
        if err is None:
            acked[check_value(msg.value())] = (msg.partition(), msg.offset())
        else:
            failed.append(err)

    p = ck.Producer({
        "bootstrap.servers": broker.bootstrap,
        "broker.address.family": "v4",
        "acks": "all",
        "linger.ms": 2,
        "message.timeout.ms": 30000,
        "queue.buffering.max.messages": 20000,
    })
    start = time.monotonic()
    i = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= RUN_BEFORE_KILL and len(acked) >= 50:
            break
        assert elapsed < 30, f"only {len(acked)} messages acknowledged in 30s (errors: {failed[:3]})"
        try:
            p.produce(topic, key=f"key-{i % 29}".encode(), value=make_value(i), on_delivery=cb)
            i += 1
        except BufferError:
            p.poll(0.01)
        if i % 100 == 0:
            p.poll(0)
    # Acks for messages sent so far may still be in flight: this is the crash.
    broker.kill9()
    p.poll(0.5)  # serve delivery reports that arrived before the kill
    p.purge(in_queue=True, in_flight=True, blocking=False)
    p.flush(10)
    assert not any(e.code() not in (ck.KafkaError._PURGE_QUEUE, ck.KafkaError._PURGE_INFLIGHT,
                                    ck.KafkaError._TRANSPORT, ck.KafkaError._ALL_BROKERS_DOWN,
                                    ck.KafkaError._MSG_TIMED_OUT) for e in failed), failed[:5]
    del p
    return acked, i


def read_back(broker, topic):
    msgs = consume_all(broker.bootstrap, topic, range(PARTITIONS), timeout=120)
    assert_dense_offsets(msgs)
    found = {}
    for part, plist in msgs.items():
        for m in plist:
            i = check_value(m.value())
            assert i not in found, f"message {i} stored twice: at {found[i]} and {(part, m.offset())}"
            assert m.key() == f"key-{i % 29}".encode(), (i, m.key())
            found[i] = (part, m.offset())
    return msgs, found


def continue_after_recovery(broker, topic, msgs):
    """New writes after recovery go to the next offset of each partition."""
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "acks": "all"})
    new = []
    for part in range(PARTITIONS):
        p.produce(topic, value=make_value(10_000_000 + part), partition=part,
                  on_delivery=lambda err, msg: new.append((err, msg.partition(), msg.offset())))
    assert p.flush(30) == 0
    for err, part, off in new:
        assert err is None, err
        assert off == len(msgs[part]), f"partition {part}: new message at {off}, log end was {len(msgs[part])}"


def test_kill9_with_flush_every_message_keeps_every_ack(make_broker):
    broker = make_broker(extra_overrides={"log.flush.interval.messages": "1"})
    topic = "crash-flush"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    acked, produced = produce_then_kill(broker, topic)
    assert acked, "nothing was acknowledged before the kill"

    broker.start()
    msgs, found = read_back(broker, topic)
    print(f"produced {produced}, acknowledged {len(acked)}, recovered {len(found)}")
    missing = sorted(set(acked) - set(found))
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged messages lost, e.g. {missing[:10]}"
    moved = {i: (acked[i], found[i]) for i in acked if acked[i] != found[i]}
    assert not moved, f"acknowledged messages at other offsets after recovery: {list(moved.items())[:5]}"
    assert set(found) <= set(range(produced))
    continue_after_recovery(broker, topic, msgs)


def test_kill9_without_flush_recovers_clean_log(make_broker):
    broker = make_broker()
    topic = "crash-noflush"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    acked, produced = produce_then_kill(broker, topic)

    broker.start()
    # Readable end to end, dense offsets, no duplicates, no torn records.
    msgs, found = read_back(broker, topic)
    print(f"produced {produced}, acknowledged {len(acked)}, recovered {len(found)}")
    assert set(found) <= set(range(produced))
    # A second crash-free restart sees the same log (recovery is stable).
    broker.stop()
    broker.start()
    msgs2, found2 = read_back(broker, topic)
    assert found2 == found, "log changed across a clean restart after recovery"
    # The process died, not the machine: the page cache kept every write that was acknowledged.
    missing = sorted(set(acked) - set(found))
    assert not missing, (
        f"{len(missing)} of {len(acked)} acknowledged messages lost after kill -9 without fsync "
        f"(a process crash keeps the page cache), e.g. {missing[:10]}"
    )
    continue_after_recovery(broker, topic, msgs2)
    admin_client(broker.bootstrap).list_topics(timeout=10)

"""Old clients: kafka-python pinned to old `api_version`s speaks Produce v0–2
with legacy message sets (magic 0 and 1) and Fetch v0–3, which strom up-
converts to record batches v2 on append and down-converts on fetch, as Kafka
3.5 does.

- each pinned kafka-python produces keyed messages, uncompressed and with
  every codec it has (gzip, snappy, lz4), and reads them back with exact
  offsets, keys, values (and timestamps from magic 1 on);
- confluent-kafka reads what the old producers wrote (up-conversion), and
  the old consumers read what confluent-kafka wrote (down-conversion);
- group-capable versions consume in a group and commit;
- at the wire: a corrupt legacy message set is CORRUPT_MESSAGE (the
  connection stays open), Fetch v0 returns whole messages within
  partition_max_bytes, and a topic with message.downconversion.enable=false
  answers UNSUPPORTED_VERSION.
"""

from __future__ import annotations

import socket
import struct
import time

import pytest

from conftest import api_versions, create_topic, consume_all, need_module, read_frame

kafka = need_module("kafka")
ck = need_module("confluent_kafka")
from kafka.record.legacy_records import LegacyRecordBatchBuilder  # noqa: E402
from kafka.record.memory_records import MemoryRecords  # noqa: E402

# (api_version, Produce version, Fetch version, message magic, group-capable)
VERSIONS = [
    ((0, 8, 2), 0, 0, 0, False),
    ((0, 9), 1, 1, 0, True),
    ((0, 10, 0), 2, 2, 1, True),
    ((0, 10, 1), 2, 3, 1, True),
    ((0, 11, 0), 3, 4, 2, True),
    ((1, 0, 0), 3, 4, 2, True),
    ((2, 0, 0), 3, 4, 2, True),
]
CODECS = [None, "gzip", "snappy", "lz4"]
PER_CODEC = 12
BASE_TS = 1_700_000_000_000

OVERRIDES = {"group.initial.rebalance.delay.ms": "0"}


def ids(v):
    return "api" + "_".join(map(str, v[0]))


def old_consumer(broker, api_version, **conf):
    return kafka.KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        api_version=api_version,
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        fetch_max_wait_ms=100,
        **conf,
    )


def read_assigned(broker, api_version, topic, start, count, timeout=30.0, **conf):
    """(offset, key, value, timestamp) of `count` messages from `start` of
    partition 0, with assign + seek (no ListOffsets, which v0 would need)."""
    c = old_consumer(broker, api_version, **conf)
    try:
        tp = kafka.TopicPartition(topic, 0)
        c.assign([tp])
        c.seek(tp, start)
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count and time.monotonic() < deadline:
            for msgs in c.poll(timeout_ms=500, max_records=1000).values():
                out.extend((m.offset, m.key, m.value, m.timestamp) for m in msgs)
        return out
    finally:
        c.close()


def expected_messages():
    """What every producer here writes: per codec, keyed values."""
    out = []
    for codec in CODECS:
        for i in range(PER_CODEC):
            key = f"{codec}-k{i % 4}".encode()
            value = (f"{codec} value {i} " + "x" * (i * 7)).encode()
            out.append((codec, key, value, BASE_TS + len(out)))
    return out


@pytest.mark.parametrize("version", VERSIONS, ids=ids)
def test_old_kafka_python_round_trip(make_broker, version):
    api_version, _produce_v, _fetch_v, magic, group_capable = version
    broker = make_broker(OVERRIDES)
    topic = "legacy-" + "-".join(map(str, api_version))
    create_topic(broker.bootstrap, topic, partitions=1)

    # Produce: one producer per codec, each flushed, so the offsets are known.
    want = expected_messages()
    acked = []
    for codec in CODECS:
        p = kafka.KafkaProducer(
            bootstrap_servers=broker.bootstrap,
            api_version=api_version,
            compression_type=codec,
            linger_ms=20,
            acks=1,
            retries=0,
        )
        try:
            futures = []
            for c, key, value, ts in want:
                if c != codec:
                    continue
                kw = {"timestamp_ms": ts} if magic >= 1 else {}
                futures.append(p.send(topic, key=key, value=value, partition=0, **kw))
            p.flush(20)
            acked.extend(f.get(timeout=20).offset for f in futures)
        finally:
            p.close(5)
    assert acked == list(range(len(want))), f"acknowledged offsets {acked}"

    # The same old client reads everything back, from 0 and from the middle.
    got = read_assigned(broker, api_version, topic, 0, len(want))
    assert [(o, k, v) for o, k, v, _ in got] == [(i, k, v) for i, (_, k, v, _) in enumerate(want)]
    if magic >= 1:
        assert [t for *_, t in got] == [ts for *_, ts in want]
    middle = read_assigned(broker, api_version, topic, 17, len(want) - 17)
    assert [m[0] for m in middle] == list(range(17, len(want)))

    # confluent-kafka reads what the old producer wrote (up-conversion).
    msgs = consume_all(broker.bootstrap, topic, [0])[0]
    assert [(m.offset(), m.key(), m.value()) for m in msgs] == [(i, k, v) for i, (_, k, v, _) in enumerate(want)]
    if magic >= 1:
        assert [m.timestamp()[1] for m in msgs] == [ts for *_, ts in want]

    # The old consumer reads what confluent-kafka wrote (down-conversion).
    from_ck = topic + "-from-ck"
    create_topic(broker.bootstrap, from_ck, partitions=1)
    sent = []
    for codec in ["none", "gzip", "snappy", "lz4"]:
        prod = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4",
                            "compression.type": codec, "linger.ms": 10})
        for i in range(PER_CODEC):
            key, value = f"ck-{codec}-{i}".encode(), f"from confluent {codec} {i}".encode() * (1 + i)
            prod.produce(from_ck, key=key, value=value, partition=0, timestamp=BASE_TS + len(sent))
            sent.append((key, value, BASE_TS + len(sent)))
        assert prod.flush(20) == 0
    got = read_assigned(broker, api_version, from_ck, 0, len(sent))
    assert [(o, k, v) for o, k, v, _ in got] == [(i, k, v) for i, (k, v, _) in enumerate(sent)]
    if magic >= 1:
        assert [t for *_, t in got] == [t for *_, t in sent]

    if not group_capable:
        return
    # A group: join, consume everything, commit. The group starts from a
    # committed 0 (set by confluent-kafka), so v0/v1 clients need no
    # ListOffsets v0.
    group = f"g-{topic}"
    setter = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": group})
    setter.commit(offsets=[ck.TopicPartition(topic, 0, 0)], asynchronous=False)
    setter.close()
    c = old_consumer(broker, api_version, group_id=group, auto_offset_reset="earliest",
                     session_timeout_ms=10000, heartbeat_interval_ms=1000)
    try:
        c.subscribe([topic])
        seen = []
        deadline = time.monotonic() + 30
        while len(seen) < len(want) and time.monotonic() < deadline:
            for batch in c.poll(timeout_ms=500).values():
                seen.extend((m.offset, m.key, m.value) for m in batch)
        assert seen == [(i, k, v) for i, (_, k, v, _) in enumerate(want)]
        c.commit()
    finally:
        c.close()
    checker = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": group})
    committed = checker.committed([ck.TopicPartition(topic, 0)], timeout=10)
    checker.close()
    assert committed[0].offset == len(want)


# ---------------------------------------------------------------------------
# At the wire
# ---------------------------------------------------------------------------


def string(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request(sock, api_key, version, body, correlation_id=7):
    header = struct.pack(">hhi", api_key, version, correlation_id) + string("legacy-test")
    frame = header + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)
    resp = read_frame(sock)
    assert struct.unpack(">i", resp[:4])[0] == correlation_id
    return resp[4:]


def legacy_set(magic, messages, compression=0):
    b = LegacyRecordBatchBuilder(magic=magic, compression_type=compression, batch_size=1 << 20)
    for i, (key, value) in enumerate(messages):
        b.append(i, timestamp=BASE_TS + i if magic else None, key=key, value=value)
    return bytes(b.build())


def produce_v2(sock, topic, records, version=2):
    body = struct.pack(">hi", 1, 10_000) + struct.pack(">i", 1) + string(topic)
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records
    r = request(sock, 0, version, body)
    # responses[1]: name, partitions[1]: index, error, base_offset, [log_append_time]
    (n,) = struct.unpack_from(">i", r, 0)
    assert n == 1
    (name_len,) = struct.unpack_from(">h", r, 4)
    pos = 6 + name_len
    (pn, index, error, base) = struct.unpack_from(">iihq", r, pos)
    pos += 18
    log_append_time = struct.unpack_from(">q", r, pos)[0] if version >= 2 else None
    return error, base, log_append_time


def fetch(sock, version, topic, offset, partition_max_bytes, max_bytes=None):
    body = struct.pack(">iii", -1, 100, 0)
    if version >= 3:
        body += struct.pack(">i", max_bytes if max_bytes is not None else 1 << 20)
    body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", 1) + struct.pack(">iqi", 0, offset, partition_max_bytes)
    r = request(sock, 1, version, body)
    pos = 4 if version >= 1 else 0  # throttle time
    (tn,) = struct.unpack_from(">i", r, pos)
    pos += 4
    (name_len,) = struct.unpack_from(">h", r, pos)
    pos += 2 + name_len
    (pn, index, error, hw, size) = struct.unpack_from(">iihqi", r, pos)
    pos += 22
    return error, hw, r[pos:pos + size]


def messages_of(records):
    out = []
    mr = MemoryRecords(records)
    while True:
        batch = mr.next_batch()
        if batch is None:
            break
        for rec in batch:
            out.append((rec.offset, rec.key, rec.value))
    return out


def test_wire_level_legacy_produce_and_fetch(make_broker):
    broker = make_broker(OVERRIDES)
    create_topic(broker.bootstrap, "wire", partitions=1)
    create_topic(broker.bootstrap, "no-down", partitions=1, config={"message.downconversion.enable": "false"})
    host, port = broker.bootstrap.split(":")
    apis = api_versions(host, int(port), version=3)["api_versions"]
    assert apis[0] == (0, 9) and apis[1] == (0, 15), "Produce 0-9 and Fetch 0-15, as Kafka 3.5"
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # A good magic-1 gzip set, then a magic-0 one: offsets continue.
        assert produce_v2(sock, "wire", legacy_set(1, [(b"a", b"1"), (b"b", b"2")], compression=1)) == (0, 0, -1)
        assert produce_v2(sock, "wire", legacy_set(0, [(None, b"3" * 100)]), version=1)[:2] == (0, 2)
        # A flipped byte: CORRUPT_MESSAGE, and the connection still serves.
        bad = bytearray(legacy_set(1, [(b"c", b"4")]))
        bad[-1] ^= 0xFF
        assert produce_v2(sock, "wire", bytes(bad))[0] == 2
        assert produce_v2(sock, "wire", legacy_set(1, [(b"d", b"5")], compression=2))[:2] == (0, 3)
        # Fetch v0–1 (magic 0) and v2–3 (magic 1) read the same four messages.
        for version in (0, 1, 2, 3):
            error, hw, records = fetch(sock, version, "wire", 0, 1 << 20)
            assert (error, hw) == (0, 4)
            msgs = messages_of(records)
            assert [m[0] for m in msgs] == [0, 1, 2, 3]
            assert [m[2] for m in msgs[:3]] == [b"1", b"2", b"3" * 100]
            assert records[16] == (0 if version <= 1 else 1), "the magic the version reads"
        # From offset 1: offset 0 is left out; a small limit gives whole messages only, at least one.
        error, _, records = fetch(sock, 2, "wire", 1, 1 << 20)
        assert [m[0] for m in messages_of(records)] == [1, 2, 3]
        error, _, records = fetch(sock, 0, "wire", 2, 10)
        assert error == 0 and [m[0] for m in messages_of(records)] == [2]
        assert len(records) == 12 + 14 + 100, "a whole magic-0 message, nothing partial"
        error, _, records = fetch(sock, 3, "wire", 0, 1 << 20, max_bytes=40)
        assert [m[0] for m in messages_of(records)] == [0], "v3 max_bytes: one whole message"
        # message.downconversion.enable=false: UNSUPPORTED_VERSION for the partition.
        assert produce_v2(sock, "no-down", legacy_set(1, [(b"k", b"v")]))[0] == 0
        assert fetch(sock, 2, "no-down", 0, 1 << 20)[0] == 35
        assert fetch(sock, 2, "wire", 0, 1 << 20)[0] == 0

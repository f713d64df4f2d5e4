"""Produce with kcat, confluent-kafka and kafka-python; read back everything."""

import json
import time
from collections import defaultdict

import pytest

from conftest import assert_dense_offsets, consume_all, create_topic, kcat, need_module

ck = need_module("confluent_kafka")
kafka = need_module("kafka")

KCAT_N = 500
CK_N = 100_000
KP_N = 300
PARTITIONS = 3
BASE_TS = 1_700_000_000_000  # explicit create timestamps for confluent-kafka's messages


def test_kcat_and_confluent_kafka_round_trip(broker):
    topic = "produce-consume"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)

    # 1. kcat: keyed lines with a header.
    lines = "".join(f"kcat-key-{i % 50}:kcat-value-{i}\n" for i in range(KCAT_N))
    t_before = int(time.time() * 1000) - 60_000
    kcat("-P", "-b", broker.bootstrap, "-t", topic, "-K:", "-H", "h1=v1", "-X", "broker.address.family=v4", input=lines, timeout=60)
    t_after = int(time.time() * 1000) + 60_000

    # 2. confluent-kafka: 100,000 keyed messages with headers and timestamps.
    delivered = {}  # idx -> (partition, offset)
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
            return
        idx = int(msg.value().split(b"-")[1])
        delivered[idx] = (msg.partition(), msg.offset())

    producer = ck.Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "broker.address.family": "v4",
            "acks": "all",
            "linger.ms": 20,
            "queue.buffering.max.messages": 200_000,
        }
    )
    for i in range(CK_N):
        while True:
            try:
                producer.produce(
                    topic,
                    key=f"key-{i % 1000}".encode(),
                    value=f"value-{i}-{'x' * (i % 37)}".encode(),
                    headers=[("idx", str(i).encode()), ("h2", b"second")],
                    timestamp=BASE_TS + i,
                    on_delivery=on_delivery,
                )
                break
            except BufferError:
                producer.poll(0.1)
        if i % 1000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    assert remaining == 0, f"{remaining} messages not delivered within 120s"
    assert not errors, f"{len(errors)} delivery errors, first: {errors[0]}"
    assert len(delivered) == CK_N

    # 3. Read everything back with confluent-kafka (assign, no group).
    total = KCAT_N + CK_N
    msgs = consume_all(broker.bootstrap, topic, range(PARTITIONS), timeout=180)
    assert sum(len(v) for v in msgs.values()) == total, {p: len(v) for p, v in msgs.items()}
    assert_dense_offsets(msgs)

    key_partition = defaultdict(set)
    kcat_seen = []
    ck_seen = {}
    for p, plist in msgs.items():
        last_idx = -1
        for m in plist:
            key_partition[m.key()].add(p)
            headers = m.headers() or []
            if m.value().startswith(b"kcat-value-"):
                assert headers == [("h1", b"v1")], (p, m.offset(), headers)
                ts_type, ts = m.timestamp()
                assert ts_type == ck.TIMESTAMP_CREATE_TIME and t_before <= ts <= t_after, (ts_type, ts)
                kcat_seen.append((m.key(), m.value()))
                continue
            idx = int(m.value().split(b"-")[1])
            assert m.value() == f"value-{idx}-{'x' * (idx % 37)}".encode()
            assert m.key() == f"key-{idx % 1000}".encode()
            assert headers == [("idx", str(idx).encode()), ("h2", b"second")], (idx, headers)
            assert m.timestamp() == (ck.TIMESTAMP_CREATE_TIME, BASE_TS + idx), (idx, m.timestamp())
            assert delivered[idx] == (p, m.offset()), f"message {idx}: delivered at {delivered[idx]}, read at {(p, m.offset())}"
            assert idx > last_idx, f"partition {p}: message {idx} after {last_idx}: order not preserved"
            last_idx = idx
            assert idx not in ck_seen, f"message {idx} read twice"
            ck_seen[idx] = (p, m.offset())

    assert sorted(kcat_seen, key=lambda kv: int(kv[1].split(b"-")[-1])) == [
        (f"kcat-key-{i % 50}".encode(), f"kcat-value-{i}".encode()) for i in range(KCAT_N)
    ]
    assert len(ck_seen) == CK_N
    spread = {k: ps for k, ps in key_partition.items() if len(ps) != 1}
    assert not spread, f"keys found in more than one partition: {list(spread.items())[:5]}"

    # 4. The same data through kcat (Debian's librdkafka 2.0.x).
    r = kcat(
        "-C", "-b", broker.bootstrap, "-t", topic, "-e", "-o", "beginning", "-q",
        "-X", "broker.address.family=v4", "-f", "%k|%s|%o|%p\n",
        timeout=180,
    )
    rows = r.stdout.decode().splitlines()
    assert len(rows) == total, f"kcat read {len(rows)} of {total}: {r.stderr.decode()[-2000:]}"
    by_consumer = {(m.key().decode(), m.value().decode(), m.offset(), p) for p, plist in msgs.items() for m in plist}
    by_kcat = set()
    for row in rows:
        k, v, o, p = row.rsplit("|", 3)
        by_kcat.add((k, v, int(o), int(p)))
    assert len(by_kcat) == total, "kcat read duplicate rows"
    assert by_kcat == by_consumer, f"kcat and confluent-kafka disagree: {sorted(by_kcat ^ by_consumer)[:5]}"


def test_kcat_json_headers_and_timestamps(broker):
    topic = "kcat-json"
    create_topic(broker.bootstrap, topic, partitions=1)
    kcat("-P", "-b", broker.bootstrap, "-t", topic, "-K:", "-H", "a=1", "-H", "b=two", "-X", "broker.address.family=v4",
         input="k1:v1\nk2:v2\nk3:v3\n")
    r = kcat("-C", "-b", broker.bootstrap, "-t", topic, "-e", "-o", "beginning", "-q", "-J", "-X", "broker.address.family=v4")
    rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [(x["key"], x["payload"], x["offset"], x["partition"]) for x in rows] == [
        ("k1", "v1", 0, 0), ("k2", "v2", 1, 0), ("k3", "v3", 2, 0)
    ], rows
    for x in rows:
        assert x["headers"] == ["a", "1", "b", "two"], x
        assert x["tstype"] == "create" and abs(x["ts"] - time.time() * 1000) < 120_000, x
        assert x["broker"] == 1, x


@pytest.mark.timeout(120)  # kafka-python retries some failed requests forever
def test_kafka_python_round_trip(broker):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = "kafka-python"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", request_timeout_ms=20000, max_block_ms=20000)
    try:
        futures = [
            producer.send(topic, key=f"kp-{i % 20}".encode(), value=f"kp-value-{i}".encode(),
                          headers=[("n", str(i).encode())], timestamp_ms=BASE_TS + i)
            for i in range(KP_N)
        ]
        producer.flush(timeout=30)
        sent = {}
        for i, f in enumerate(futures):
            md = f.get(timeout=30)
            sent[i] = (md.partition, md.offset)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                             request_timeout_ms=30000, consumer_timeout_ms=1000)
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        got = []
        deadline = time.monotonic() + 60
        while len(got) < KP_N and time.monotonic() < deadline:
            for recs in consumer.poll(timeout_ms=500).values():
                got.extend(recs)
    finally:
        consumer.close()

    assert len(got) == KP_N, f"kafka-python read {len(got)} of {KP_N}"
    by_partition = defaultdict(list)
    key_partition = defaultdict(set)
    for r in got:
        i = int(r.value.decode().rsplit("-", 1)[1])
        assert r.key == f"kp-{i % 20}".encode()
        assert list(r.headers) == [("n", str(i).encode())], r.headers
        assert r.timestamp == BASE_TS + i, (i, r.timestamp)
        assert sent[i] == (r.partition, r.offset), (i, sent[i], (r.partition, r.offset))
        by_partition[r.partition].append(r)
        key_partition[r.key].add(r.partition)
    for p, recs in by_partition.items():
        assert [r.offset for r in recs] == list(range(len(recs))), f"partition {p}: offsets not dense"
    assert all(len(ps) == 1 for ps in key_partition.values())

    # And confluent-kafka sees the same records kafka-python wrote.
    msgs = consume_all(broker.bootstrap, topic, range(PARTITIONS))
    assert sum(len(v) for v in msgs.values()) == KP_N


def test_kcat_balanced_group_commits_and_lists(broker):
    """Debian's kcat (librdkafka 2.0.2) as a balanced group consumer (-G):
    it joins, is assigned every partition, reads everything and commits on
    exit; confluent-kafka (a current librdkafka) sees the committed offsets.
    `kcat -L` lists the topic with every partition led by broker 1 and
    `kcat -Q` (ListOffsets by timestamp) finds the first offset."""
    topic, group = "kcat-group", "kcat-group-1"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    lines = "".join(f"k{i}:v{i}\n" for i in range(90))
    kcat("-P", "-b", broker.bootstrap, "-t", topic, "-K:", "-X", "broker.address.family=v4", input=lines, timeout=60)
    highs = {}
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": group})
    try:
        for p in range(PARTITIONS):
            highs[p] = c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)[1]
    finally:
        c.close()
    assert sum(highs.values()) == 90

    r = kcat("-G", group, "-b", broker.bootstrap, "-X", "broker.address.family=v4", "-X", "auto.offset.reset=earliest",
             "-X", "topic.auto.offset.reset=earliest", "-e", "-f", "%p %o %k %s\n", topic, timeout=90)
    rows = [line.split(" ") for line in r.stdout.decode().splitlines() if line]
    assert sorted((k, v) for _, _, k, v in rows) == sorted((f"k{i}", f"v{i}") for i in range(90)), r.stderr.decode()[-2000:]
    seen = {(int(p), int(o)) for p, o, _, _ in rows}
    assert seen == {(p, o) for p in range(PARTITIONS) for o in range(highs[p])}

    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": group})
    try:
        committed = c.committed([ck.TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=15)
    finally:
        c.close()
    assert {tp.partition: tp.offset for tp in committed} == highs

    md = json.loads(kcat("-L", "-J", "-b", broker.bootstrap, "-X", "broker.address.family=v4", "-t", topic).stdout)
    (t,) = md["topics"]
    assert t["topic"] == topic and sorted(p["partition"] for p in t["partitions"]) == list(range(PARTITIONS))
    assert all(p["leader"] == 1 for p in t["partitions"])
    q = kcat("-Q", "-b", broker.bootstrap, "-X", "broker.address.family=v4", "-t", f"{topic}:0:0").stdout.decode()
    assert f"{topic} [0] offset 0" in q, q

"""Committed offsets under every broker codec (issue 14, part 2).

- With the broker's `compression.type` set to each codec (and `producer`),
  a confluent-kafka and a kafka-python group commit offsets; after a graceful
  restart and after a kill -9 each group's committed offset is what it
  committed and consumption resumes there. One broker start per codec.
- Upgrade: an offsets log whose batches the old code path wrote compressed
  (`__consumer_offsets` without its own `compression.type`, so the broker's
  gzip applied) loads with no committed offset lost, and the topic then
  carries `compression.type=producer`.
"""

import json
import struct
import time

import pytest

from conftest import create_topic, need_module, wait_until
from test_idempotence_compression import Conn, build_batch, fix_crc, log_batches

ck = need_module("confluent_kafka")
kafka = need_module("kafka")

OVERRIDES = {"group.initial.rebalance.delay.ms": "0", "offsets.topic.num.partitions": "3"}
TOPIC = "committed"
N_MESSAGES = 100
CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def produce(bootstrap, n=N_MESSAGES):
    p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "linger.ms": 5})
    for i in range(n):
        p.produce(TOPIC, f"message-{i}".encode(), partition=0)
    assert p.flush(30) == 0


# -- confluent-kafka -----------------------------------------------------------


def ck_consumer(bootstrap, group):
    return ck.Consumer({
        "bootstrap.servers": bootstrap, "broker.address.family": "v4", "group.id": group,
        "enable.auto.commit": False, "auto.offset.reset": "earliest",
    })


def ck_commit(bootstrap, group, offset):
    c = ck_consumer(bootstrap, group)
    try:
        c.commit(offsets=[ck.TopicPartition(TOPIC, 0, offset, metadata=f"m-{offset}")], asynchronous=False)
    finally:
        c.close()


def ck_check(bootstrap, group, offset):
    """The group's committed offset is `offset` and consumption resumes there."""
    c = ck_consumer(bootstrap, group)
    try:
        (tp,) = c.committed([ck.TopicPartition(TOPIC, 0)], timeout=30)
        # The metadata string is asserted through kafka-python: the
        # confluent-kafka binding sometimes decodes bytes past the ones sent.
        assert tp.offset == offset, tp
        c.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_STORED)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                assert (m.offset(), m.value()) == (offset, f"message-{offset}".encode())
                return
        raise AssertionError(f"confluent-kafka group {group}: nothing consumed")
    finally:
        c.close()


# -- kafka-python --------------------------------------------------------------


def kp_consumer(bootstrap, group):
    return kafka.KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", api_version_auto_timeout_ms=10000,
    )


def kp_commit(bootstrap, group, offset):
    c = kp_consumer(bootstrap, group)
    try:
        tp = kafka.TopicPartition(TOPIC, 0)
        c.assign([tp])
        c.commit({tp: kafka.structs.OffsetAndMetadata(offset, f"m-{offset}")})
    finally:
        c.close()


def kp_check(bootstrap, group, offset):
    c = kp_consumer(bootstrap, group)
    try:
        tp = kafka.TopicPartition(TOPIC, 0)
        c.assign([tp])
        committed = c.committed(tp, metadata=True)
        assert (committed.offset, committed.metadata) == (offset, f"m-{offset}"), committed
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for records in c.poll(timeout_ms=500, max_records=1).values():
                r = records[0]
                assert (r.offset, r.value) == (offset, f"message-{offset}".encode())
                return
        raise AssertionError(f"kafka-python group {group}: nothing consumed")
    finally:
        c.close()


def commit_both(bootstrap, ck_offset, kp_offset):
    ck_commit(bootstrap, "group-ck", ck_offset)
    kp_commit(bootstrap, "group-kp", kp_offset)


def check_both(bootstrap, ck_offset, kp_offset):
    ck_check(bootstrap, "group-ck", ck_offset)
    kp_check(bootstrap, "group-kp", kp_offset)


def offsets_batch_codecs(broker):
    """The codec ids of every batch in __consumer_offsets' .log files."""
    out = set()
    for d in broker.data_dir.glob("__consumer_offsets-*"):
        part = int(d.name.rsplit("-", 1)[1])
        out |= {a & 7 for a, _, _ in log_batches(broker, "__consumer_offsets", part)}
    return out


@pytest.mark.parametrize("codec", ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"])
def test_committed_offsets_survive_restart_under_every_broker_codec(make_broker, codec):
    broker = make_broker({**OVERRIDES, "compression.type": codec})
    create_topic(broker.bootstrap, TOPIC, partitions=1)
    produce(broker.bootstrap)
    commit_both(broker.bootstrap, 40, 60)
    broker.stop()
    broker.start()
    check_both(broker.bootstrap, 40, 60)
    commit_both(broker.bootstrap, 45, 65)
    broker.kill9()
    broker.start()
    check_both(broker.bootstrap, 45, 65)
    # Kafka's default offsets.topic.compression.codec is 0: the coordinator
    # writes uncompressed and the topic (compression.type=producer) keeps it.
    assert offsets_batch_codecs(broker) == {0}


def test_offsets_topic_compression_codec_is_used(make_broker):
    broker = make_broker({**OVERRIDES, "compression.type": "lz4", "offsets.topic.compression.codec": "4"})
    create_topic(broker.bootstrap, TOPIC, partitions=1)
    produce(broker.bootstrap)
    commit_both(broker.bootstrap, 10, 20)
    assert offsets_batch_codecs(broker) == {4}
    broker.stop()
    broker.start()
    check_both(broker.bootstrap, 10, 20)


def java_hash(s):
    h = 0
    for unit in struct.unpack(f">{len(s.encode('utf-16-be')) // 2}H", s.encode("utf-16-be")):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def offsets_partition(group, partitions=3):
    h = java_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % partitions


def kstr16(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def offset_commit_record(group, offset):
    """Kafka's offset commit key v1 and value v3 (the coordinator's encoding)."""
    key = struct.pack(">h", 1) + kstr16(group) + kstr16(TOPIC) + struct.pack(">i", 0)
    meta = f"m-{offset}"
    value = struct.pack(">hqi", 3, offset, -1) + kstr16(meta) + struct.pack(">q", int(time.time() * 1000))
    return key, value


def log_end_offset(broker, topic, partition):
    end = 0
    for _attrs, base, count in log_batches(broker, topic, partition):
        end = max(end, base + count)
    return end


def append_old_batch(broker, group, offset, codec):
    """Appends to the group's __consumer_offsets segment a batch of one offset
    commit compressed with `codec`: what the old code left on disk when the
    broker's compression.type recompressed the coordinator's batch."""
    from kafka.record.default_records import DefaultRecordBatchBuilder

    part = offsets_partition(group)
    base = log_end_offset(broker, "__consumer_offsets", part)
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 20)
    # Earlier commits of the same partition first (they compress well); the
    # last one is the group's committed offset.
    for i, o in enumerate(range(offset - 20, offset + 1)):
        key, value = offset_commit_record(group, o)
        b.append(i, timestamp=int(time.time() * 1000), key=key, value=value, headers=[])
    batch = bytearray(b.build())
    assert batch[22] & 7 == codec, "the batch must be compressed"
    batch[0:8] = struct.pack(">q", base)
    fix_crc(batch)
    segs = sorted((broker.data_dir / f"__consumer_offsets-{part}").glob("*.log"))
    with open(segs[-1], "ab") as f:
        f.write(batch)


def drop_offsets_topic_codec(store):
    """Removes compression.type from __consumer_offsets in the embedded
    metadata store, as a topic created by the old code looked."""
    doc = json.loads(store.read_text())
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == "__consumer_offsets" and isinstance(node.get("configs"), dict):
                found.append(node["configs"].pop("compression.type", None))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    assert found == ["producer"], f"the new code creates __consumer_offsets with compression.type=producer: {found}"
    store.write_text(json.dumps(doc))


def offsets_topic_codec_config(broker):
    admin = ck.admin.AdminClient({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4"})
    res = ck.admin.ConfigResource(ck.admin.ResourceType.TOPIC, "__consumer_offsets")
    configs = admin.describe_configs([res])[res].result(20)
    return configs["compression.type"].value


@pytest.mark.parametrize("restart", ["graceful", "kill9"])
def test_upgrade_loads_offsets_the_old_code_wrote_compressed(make_broker, restart):
    """An offsets log holding gzip and zstd batches of offset commits (the
    old code's doing under compression.type=gzip) and a __consumer_offsets
    without its own compression.type: after the upgrade every committed
    offset loads and the topic carries compression.type=producer."""
    broker = make_broker({**OVERRIDES, "compression.type": "gzip"})
    create_topic(broker.bootstrap, TOPIC, partitions=1)
    produce(broker.bootstrap)
    commit_both(broker.bootstrap, 1, 2)  # creates __consumer_offsets
    if restart == "graceful":
        broker.stop()
    else:
        broker.kill9()
    drop_offsets_topic_codec(broker.data_dir / "strom-metadata.json")
    append_old_batch(broker, "group-ck", 33, CODEC_IDS["gzip"])
    append_old_batch(broker, "group-kp", 44, CODEC_IDS["zstd"])
    # Unclean: recovery re-reads the segments the batches were appended to.
    (broker.data_dir / ".kafka_cleanshutdown").unlink(missing_ok=True)
    broker.start()
    check_both(broker.bootstrap, 33, 44)
    assert offsets_topic_codec_config(broker) == "producer"
    commit_both(broker.bootstrap, 50, 51)
    broker.stop()
    broker.start()
    check_both(broker.bootstrap, 50, 51)

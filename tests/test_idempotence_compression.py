"""Idempotent producers and compressed batches (issue 6).

- confluent-kafka with enable.idempotence=true across a graceful restart and
  a kill -9 (flush every message): every message exactly once, in order;
- a batch replayed on a raw connection gets its original offset;
- gzip/snappy/lz4/zstd round trips between confluent-kafka and kafka-python,
  and a compression.type=zstd topic stores zstd batches (read from the .log);
- a compressed batch with corrupt inner data and a valid CRC is
  CORRUPT_MESSAGE and writes nothing; control batches, transactional ids.
"""

import socket
import struct
import threading
import time

import pytest

from conftest import assert_dense_offsets, consume_all, create_topic, need_module, read_frame, wait_until

ck = need_module("confluent_kafka")
kafka = need_module("kafka")
from kafka.record.default_records import DefaultRecordBatchBuilder  # noqa: E402
from kafka.record.util import calc_crc32c  # noqa: E402

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
HEADER = 61


# ---------------------------------------------------------------------------
# Raw protocol helpers
# ---------------------------------------------------------------------------


def kstr(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class Conn:
    def __init__(self, broker):
        self.sock = socket.create_connection(("127.0.0.1", broker.external_port), timeout=10)
        self.cid = 0

    def request(self, api_key, version, body):
        self.cid += 1
        header = struct.pack(">hhi", api_key, version, self.cid) + kstr("strom-tests")
        payload = header + body
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        frame = read_frame(self.sock)
        (cid,) = struct.unpack_from(">i", frame, 0)
        assert cid == self.cid
        return frame[4:]

    def init_producer_id(self, transactional_id=None):
        body = kstr(transactional_id) + struct.pack(">i", 60000)
        resp = self.request(22, 0, body)
        _throttle, error, pid, epoch = struct.unpack(">ihqh", resp)
        return error, pid, epoch

    def produce(self, topic, partition, records, transactional_id=None, acks=-1):
        """Produce v7; returns (error_code, base_offset)."""
        body = kstr(transactional_id) + struct.pack(">hi", acks, 10000)
        body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 1)
        body += struct.pack(">ii", partition, len(records)) + bytes(records)
        resp = self.request(0, 7, body)
        pos = 4  # topic count
        (n,) = struct.unpack_from(">h", resp, pos)
        pos += 2 + n + 4  # name, partition count
        _index, error, base_offset = struct.unpack_from(">ihq", resp, pos)
        return error, base_offset

    def close(self):
        self.sock.close()


def build_batch(values, codec=0, pid=-1, epoch=-1, seq=-1, transactional=False):
    b = DefaultRecordBatchBuilder(
        magic=2, compression_type=codec, is_transactional=transactional,
        producer_id=pid, producer_epoch=epoch, base_sequence=seq, batch_size=1 << 20,
    )
    now = int(time.time() * 1000)
    for i, v in enumerate(values):
        b.append(i, timestamp=now, key=None, value=v, headers=[])
    return bytearray(b.build())


def fix_crc(batch):
    batch[17:21] = struct.pack(">I", calc_crc32c(bytes(batch[21:])))
    return batch


def log_batches(broker, topic, partition):
    """(attributes, base_offset, record_count) of every batch in the partition's .log files."""
    out = []
    d = broker.data_dir / f"{topic}-{partition}"
    for f in sorted(d.glob("*.log")):
        data = f.read_bytes()
        pos = 0
        while pos + HEADER <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            (attrs,) = struct.unpack_from(">h", data, pos + 21)
            (count,) = struct.unpack_from(">i", data, pos + 57)
            out.append((attrs, base, count))
            pos += 12 + length
    return out


def hwm(broker, topic, partition):
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": "hwm"})
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10)[1]
    finally:
        c.close()


# ---------------------------------------------------------------------------
# 1. Idempotent producer across restarts
# ---------------------------------------------------------------------------

N_IDEMPOTENT = 200_000
PARTITIONS = 3


def test_idempotent_producer_exactly_once_across_restart_and_kill9(make_broker):
    broker = make_broker(extra_overrides={"log.flush.interval.messages": "1"})
    topic = "idempotent"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)

    acked = [0]
    errors = []

    def cb(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked[0] += 1

    p = ck.Producer({
        "bootstrap.servers": broker.bootstrap,
        "broker.address.family": "v4",
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 120000,
        "queue.buffering.max.messages": 50000,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
    })
    done = threading.Event()

    def produce_all():
        try:
            for i in range(N_IDEMPOTENT):
                while True:
                    try:
                        p.produce(topic, value=f"{i:08d}".encode(), partition=i % PARTITIONS, on_delivery=cb)
                        break
                    except BufferError:
                        p.poll(0.05)
                if i % 1000 == 0:
                    p.poll(0)
            p.flush(150)
        finally:
            done.set()

    t = threading.Thread(target=produce_all, daemon=True)
    t.start()
    wait_until(lambda: acked[0] >= 40_000, 60, "40,000 acknowledgements before the graceful restart")
    broker.stop()
    time.sleep(0.5)
    broker.start()
    wait_until(lambda: acked[0] >= 110_000, 60, "110,000 acknowledgements before the kill -9")
    broker.kill9()
    time.sleep(0.5)
    broker.start()
    assert done.wait(170), f"producer did not finish: {acked[0]} acknowledged"
    t.join(5)
    assert not errors, f"{len(errors)} delivery errors, first: {errors[0]}"
    assert acked[0] == N_IDEMPOTENT

    msgs = consume_all(broker.bootstrap, topic, range(PARTITIONS), timeout=120)
    assert_dense_offsets(msgs)
    for part, plist in msgs.items():
        values = [int(m.value()) for m in plist]
        expected = list(range(part, N_IDEMPOTENT, PARTITIONS))
        if values != expected:
            dups = len(values) - len(set(values))
            missing = sorted(set(expected) - set(values))[:10]
            firstbad = next((k for k, (a, b) in enumerate(zip(values, expected)) if a != b), None)
            raise AssertionError(
                f"partition {part}: {len(values)} values, {dups} duplicates, missing e.g. {missing}, "
                f"first mismatch at index {firstbad}"
            )


# ---------------------------------------------------------------------------
# 2. A replayed batch
# ---------------------------------------------------------------------------


def test_replayed_batch_gets_original_offset(broker):
    topic = "replay"
    create_topic(broker.bootstrap, topic, partitions=1)
    conn = Conn(broker)
    try:
        error, pid, epoch = conn.init_producer_id()
        assert error == 0 and pid >= 0 and epoch == 0, (error, pid, epoch)
        error2, pid2, _ = conn.init_producer_id()
        assert error2 == 0 and pid2 != pid, "producer ids must not repeat"

        b0 = build_batch([b"a0", b"a1", b"a2"], pid=pid, epoch=epoch, seq=0)
        b1 = build_batch([b"b0", b"b1"], pid=pid, epoch=epoch, seq=3)
        assert conn.produce(topic, 0, b0) == (0, 0)
        assert conn.produce(topic, 0, b1) == (0, 3)
        # Replays: the original offsets, no error, nothing written.
        assert conn.produce(topic, 0, b1) == (0, 3)
        assert conn.produce(topic, 0, b0) == (0, 0)
        assert hwm(broker, topic, 0) == 5
        # A gap: OUT_OF_ORDER_SEQUENCE_NUMBER (45).
        gap = build_batch([b"c"], pid=pid, epoch=epoch, seq=7)
        assert conn.produce(topic, 0, gap)[0] == 45
        # A new epoch starts at 0; the old epoch is then fenced: INVALID_PRODUCER_EPOCH (47).
        assert conn.produce(topic, 0, build_batch([b"d"], pid=pid, epoch=1, seq=0)) == (0, 5)
        assert conn.produce(topic, 0, build_batch([b"e"], pid=pid, epoch=0, seq=5))[0] == 47
        assert hwm(broker, topic, 0) == 6
    finally:
        conn.close()

    # Deduplication survives a restart (state from the .snapshot file).
    broker.stop()
    broker.start()
    conn = Conn(broker)
    try:
        assert conn.produce(topic, 0, build_batch([b"d"], pid=pid, epoch=1, seq=0)) == (0, 5)
        assert conn.produce(topic, 0, build_batch([b"f"], pid=pid, epoch=1, seq=1)) == (0, 6)
        # New ids after a restart are still new.
        error, pid3, _ = conn.init_producer_id()
        assert error == 0 and pid3 > pid2
    finally:
        conn.close()
    assert list((broker.data_dir / f"{topic}-0").glob("*.snapshot")), "no producer state snapshot"
    values = [m.value() for m in consume_all(broker.bootstrap, topic, [0])[0]]
    assert values == [b"a0", b"a1", b"a2", b"b0", b"b1", b"d", b"f"]


def test_transactional_ids_and_control_batches_are_refused(broker):
    topic = "no-txn"
    create_topic(broker.bootstrap, topic, partitions=1)
    conn = Conn(broker)
    try:
        # COORDINATOR_NOT_AVAILABLE (15) for a transactional id, INVALID_REQUEST (42) for an empty one.
        assert conn.init_producer_id("my-txn")[0] == 15
        assert conn.init_producer_id("")[0] == 42
        # Transactional batch without a transactional id: TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53).
        txn = build_batch([b"t"], pid=1, epoch=0, seq=0, transactional=True)
        assert conn.produce(topic, 0, txn)[0] == 53
        assert conn.produce(topic, 0, txn, transactional_id="my-txn")[0] == 48
        # A control batch from a client: INVALID_RECORD (87).
        control = build_batch([b"x"])
        control[21:23] = struct.pack(">h", 0x20)
        assert conn.produce(topic, 0, fix_crc(control))[0] == 87
        assert hwm(broker, topic, 0) == 0
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# 3. Codecs
# ---------------------------------------------------------------------------

N_CODEC = 2000


def kp_producer(broker, codec):
    return kafka.KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec, linger_ms=10, acks="all")


def kp_consume(broker, topic, partitions, expected, timeout=60):
    c = kafka.KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000)
    try:
        c.assign([kafka.TopicPartition(topic, p) for p in partitions])
        c.seek_to_beginning()
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                out.extend(r.value for r in recs)
        return out
    finally:
        c.close()


@pytest.mark.parametrize("codec", list(CODECS))
def test_codec_round_trip_between_clients(broker, codec):
    topic = f"codec-{codec}"
    create_topic(broker.bootstrap, topic, partitions=2)
    # confluent-kafka producer.
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4",
                     "compression.type": codec, "linger.ms": 20, "enable.idempotence": True})
    errs = []
    for i in range(N_CODEC):
        p.produce(topic, value=f"ck-{codec}-{i}-".encode() + b"z" * (i % 50), partition=i % 2,
                  on_delivery=lambda e, m: e and errs.append(e))
    assert p.flush(60) == 0 and not errs, errs[:3]
    # kafka-python producer.
    kp = kp_producer(broker, codec)
    for i in range(N_CODEC):
        kp.send(topic, value=f"kp-{codec}-{i}-".encode() + b"y" * (i % 50), partition=i % 2)
    kp.flush(60)
    kp.close()

    expected = {f"ck-{codec}-{i}-".encode() + b"z" * (i % 50) for i in range(N_CODEC)}
    expected |= {f"kp-{codec}-{i}-".encode() + b"y" * (i % 50) for i in range(N_CODEC)}
    # Stored with the producers' codec (compression.type=producer).
    for part in range(2):
        batches = log_batches(broker, topic, part)
        assert batches and all(a & 7 == CODECS[codec] for a, _, _ in batches), batches[:5]
    # confluent-kafka consumer.
    msgs = consume_all(broker.bootstrap, topic, range(2), timeout=60)
    assert_dense_offsets(msgs)
    got = [m.value() for plist in msgs.values() for m in plist]
    assert len(got) == 2 * N_CODEC and set(got) == expected
    # kafka-python consumer.
    got = kp_consume(broker, topic, range(2), 2 * N_CODEC)
    assert len(got) == 2 * N_CODEC and set(got) == expected


def test_zstd_topic_stores_zstd_whatever_the_producer_sent(broker):
    topic = "zstd-topic"
    create_topic(broker.bootstrap, topic, partitions=1, config={"compression.type": "zstd"})
    expected = []
    for codec in ["none", "gzip", "snappy", "lz4"]:
        p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4",
                         "compression.type": codec, "linger.ms": 5})
        for i in range(300):
            v = f"{codec}-{i}".encode() * 3
            expected.append(v)
            p.produce(topic, value=v, partition=0)
        assert p.flush(30) == 0
    kp = kp_producer(broker, "snappy")
    for i in range(300):
        v = f"kp-snappy-{i}".encode()
        expected.append(v)
        kp.send(topic, value=v, partition=0)
    kp.flush(30)
    kp.close()
    conn = Conn(broker)
    try:
        v = [b"raw-uncompressed-1", b"raw-uncompressed-2"]
        assert conn.produce(topic, 0, build_batch(v))[0] == 0
        expected.extend(v)
    finally:
        conn.close()

    batches = log_batches(broker, topic, 0)
    assert batches
    assert all(a & 7 == 4 for a, _, _ in batches), sorted({a & 7 for a, _, _ in batches})
    msgs = consume_all(broker.bootstrap, topic, [0], timeout=60)
    assert_dense_offsets(msgs)
    assert [m.value() for m in msgs[0]] == expected
    assert kp_consume(broker, topic, [0], len(expected)) == expected


def test_uncompressed_topic_decompresses(broker):
    topic = "plain-topic"
    create_topic(broker.bootstrap, topic, partitions=1, config={"compression.type": "uncompressed"})
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4",
                     "compression.type": "gzip", "linger.ms": 5})
    for i in range(500):
        p.produce(topic, value=f"v{i}".encode(), partition=0)
    assert p.flush(30) == 0
    assert all(a & 7 == 0 for a, _, _ in log_batches(broker, topic, 0))
    msgs = consume_all(broker.bootstrap, topic, [0])
    assert [m.value() for m in msgs[0]] == [f"v{i}".encode() for i in range(500)]


# ---------------------------------------------------------------------------
# 4. Corrupt compressed batch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("codec", list(CODECS))
def test_corrupt_compressed_batch_is_refused(broker, codec):
    topic = f"corrupt-{codec}"
    create_topic(broker.bootstrap, topic, partitions=1)
    good = build_batch([f"value-{i}".encode() * 5 for i in range(20)], codec=CODECS[codec])
    # Inner data cut short, length and outer CRC-32C valid for the cut batch.
    payload = good[HEADER:]
    bad = good[:HEADER] + payload[: len(payload) // 2]
    bad[8:12] = struct.pack(">i", len(bad) - 12)
    fix_crc(bad)
    conn = Conn(broker)
    try:
        assert conn.produce(topic, 0, bad)[0] == 2, "CORRUPT_MESSAGE expected"
        assert hwm(broker, topic, 0) == 0
        assert log_batches(broker, topic, 0) == []
        # The good batch is accepted and stored as sent.
        assert conn.produce(topic, 0, good) == (0, 0)
    finally:
        conn.close()
    assert [a & 7 for a, _, _ in log_batches(broker, topic, 0)] == [CODECS[codec]]


def test_timestamp_difference_is_enforced(broker):
    topic = "ts-diff"
    create_topic(broker.bootstrap, topic, partitions=1,
                 config={"message.timestamp.difference.max.ms": "60000"})
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "compression.type": "lz4"})
    results = []
    p.produce(topic, value=b"now", partition=0, on_delivery=lambda e, m: results.append(e))
    p.flush(30)
    p.produce(topic, value=b"old", partition=0, timestamp=int(time.time() * 1000) - 3_600_000,
              on_delivery=lambda e, m: results.append(e))
    p.flush(30)
    assert results[0] is None
    assert results[1] is not None and results[1].code() == ck.KafkaError.INVALID_TIMESTAMP, results

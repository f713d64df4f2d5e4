"""Retention, compaction and DeleteRecords (issue 5), against the real binary
with confluent-kafka: old segments leave the disk, the log start offset moves
and consumers are reset per auto.offset.reset; compacted topics keep the
latest value per key and survive a kill -9 mid-clean; DeleteRecords and
live config changes take effect."""

import threading
import time
from pathlib import Path

from conftest import admin_client, create_topic, need_module, wait_until

ck = need_module("confluent_kafka")
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType  # noqa: E402

FAST = {
    "log.retention.check.interval.ms": "1000",
    "log.cleaner.backoff.ms": "200",
}


def producer(bootstrap, **conf):
    c = {"bootstrap.servers": bootstrap, "broker.address.family": "v4", "acks": "all", "linger.ms": 5}
    c.update(conf)
    return ck.Producer(c)


def consumer(bootstrap, **conf):
    c = {
        "bootstrap.servers": bootstrap,
        "broker.address.family": "v4",
        "group.id": "strom-retention-tests",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "earliest",
    }
    c.update(conf)
    return ck.Consumer(c)


def watermarks(bootstrap, topic, partition=0):
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10)
    finally:
        c.close()


def partition_dir(broker, topic, partition=0) -> Path:
    return broker.data_dir / f"{topic}-{partition}"


def segment_files(broker, topic, suffix=".log"):
    d = partition_dir(broker, topic)
    return sorted(p for p in d.iterdir() if p.name.endswith(suffix))


def read_from_beginning(bootstrap, topic, timeout=60.0):
    """Every message of partition 0 from the log start to the high watermark."""
    lo, hi = watermarks(bootstrap, topic)
    c = consumer(bootstrap)
    out = []
    try:
        c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        deadline = time.monotonic() + timeout
        while not out or out[-1].offset() < hi - 1:
            assert time.monotonic() < deadline, f"read {len(out)} messages up to {out[-1].offset() if out else None}, high watermark {hi}"
            for m in c.consume(num_messages=10000, timeout=0.5):
                assert not m.error(), m.error()
                out.append(m)
    finally:
        c.close()
    return out


def test_time_retention_deletes_old_segments_and_resets_consumers(make_broker):
    broker = make_broker(FAST)
    topic = "ret-time"
    create_topic(broker.bootstrap, topic, partitions=1,
                 config={"retention.ms": "2000", "segment.ms": "300", "file.delete.delay.ms": "200"})

    # A producer keeps writing throughout; none of its sends may stall.
    stop = threading.Event()
    latencies, errors, sent = [], [], [0]

    def produce_forever():
        p = producer(broker.bootstrap, **{"linger.ms": 0})
        while not stop.is_set():
            t0 = time.monotonic()

            def cb(err, msg, t0=t0):
                if err:
                    errors.append(err)
                latencies.append(time.monotonic() - t0)

            p.produce(topic, key=b"k", value=b"x" * 200, on_delivery=cb)
            sent[0] += 1
            p.poll(0)
            time.sleep(0.01)
        p.flush(10)

    t = threading.Thread(target=produce_forever)
    t.start()
    try:
        first = partition_dir(broker, topic) / ("0" * 20 + ".log")
        wait_until(lambda: first.exists() and len(segment_files(broker, topic)) >= 3, 10, "segments to roll")
        # The first segment leaves the disk entirely (.deleted included) within seconds.
        wait_until(lambda: not any(p.name.startswith("0" * 20) for p in partition_dir(broker, topic).iterdir()),
                   15, "the first segment's files to be deleted")
        lo, hi = wait_until(lambda: (lambda w: w if w[0] > 0 else None)(watermarks(broker.bootstrap, topic)),
                            10, "ListOffsets earliest to advance")
        assert 0 < lo <= hi
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors[:3]
    assert sent[0] > 100 and len(latencies) == sent[0]
    assert max(latencies) < 2.0, f"a produce took {max(latencies):.2f}s"

    # A consumer asking for offset 0 is out of range: auto.offset.reset=earliest moves it to the log start ...
    lo, hi = watermarks(broker.bootstrap, topic)
    assert lo > 0
    c = consumer(broker.bootstrap, **{"auto.offset.reset": "earliest"})
    try:
        c.assign([ck.TopicPartition(topic, 0, 0)])
        m = wait_until(lambda: next((m for m in c.consume(10, timeout=0.5) if not m.error()), None), 15, "a message")
        assert m.offset() >= lo
    finally:
        c.close()
    # ... and auto.offset.reset=error reports the out-of-range offset.
    c = consumer(broker.bootstrap, **{"auto.offset.reset": "error"})
    try:
        c.assign([ck.TopicPartition(topic, 0, 0)])

        def out_of_range():
            for m in c.consume(10, timeout=0.5):
                if m.error():
                    return m.error()
                raise AssertionError(f"got message at {m.offset()} from an out-of-range offset")
        err = wait_until(out_of_range, 15, "an offset-out-of-range error")
        assert err.code() == ck.KafkaError._AUTO_OFFSET_RESET, err
    finally:
        c.close()


def test_size_retention_keeps_partition_under_limit_plus_one_segment(make_broker):
    broker = make_broker(FAST)
    topic = "ret-size"
    limit, seg = 20000, 4000
    create_topic(broker.bootstrap, topic, partitions=1,
                 config={"retention.bytes": str(limit), "segment.bytes": str(seg), "file.delete.delay.ms": "0"})
    p = producer(broker.bootstrap)
    for i in range(600):
        p.produce(topic, key=str(i).encode(), value=b"v" * 200)
        if i % 50 == 0:
            p.flush(10)
    assert p.flush(30) == 0

    def within():
        total = sum(f.stat().st_size for f in segment_files(broker, topic))
        return total <= limit + seg and total
    total = wait_until(within, 10, "the partition to shrink under retention.bytes plus one segment")
    assert total >= limit - seg
    lo, hi = watermarks(broker.bootstrap, topic)
    assert lo > 0 and hi == 600
    msgs = read_from_beginning(broker.bootstrap, topic)
    assert [m.offset() for m in msgs] == list(range(lo, 600))


def test_compaction_keeps_latest_per_key_survives_kill9_and_drops_tombstones(make_broker):
    keys, versions = 10000, 10
    overrides = dict(FAST)
    # Throttled so that the kill -9 below lands in the middle of a clean.
    overrides["log.cleaner.io.max.bytes.per.second"] = "1500000"
    broker = make_broker(overrides)
    topic = "compacted"
    create_topic(broker.bootstrap, topic, partitions=1, config={
        "cleanup.policy": "compact",
        "segment.bytes": "262144",
        "segment.ms": "1500",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "8000",
        "file.delete.delay.ms": "100",
    })

    # Keyless records are refused on a compacted topic.
    p = producer(broker.bootstrap, retries=0)
    errs = []
    p.produce(topic, value=b"no key", on_delivery=lambda e, m: errs.append(e))
    p.flush(10)
    assert errs and errs[0] is not None and errs[0].code() == ck.KafkaError.INVALID_RECORD, errs

    p = producer(broker.bootstrap, **{"linger.ms": 20, "batch.num.messages": 500})
    for v in range(versions):
        for k in range(keys):
            p.produce(topic, key=f"key-{k}".encode(), value=f"value-{v}-{k}".encode())
        p.poll(0)
    tombstoned = set(range(0, keys, 10))
    for k in sorted(tombstoned):
        p.produce(topic, key=f"key-{k}".encode(), value=None)
    assert p.flush(60) == 0
    total = keys * versions + len(tombstoned)
    # One more record after segment.ms seals everything above it.
    time.sleep(1.6)
    p.produce(topic, key=b"end", value=b"end")
    assert p.flush(10) == 0

    expected = {f"key-{k}".encode(): f"value-{versions - 1}-{k}".encode() for k in range(keys) if k not in tombstoned}
    expected[b"end"] = b"end"

    # kill -9 while the cleaner is rewriting segments.
    scratch = broker.data_dir / ".strom-cleaner"
    wait_until(lambda: scratch.exists() and any(scratch.rglob("*.log")), 20, "the cleaner to start writing")
    time.sleep(0.5)
    broker.kill9()

    broker.extra_overrides.pop("log.cleaner.io.max.bytes.per.second")
    broker.start()
    # Nothing lost: the latest value of every key is there, offsets increase.
    msgs = read_from_beginning(broker.bootstrap, topic)
    offsets = [m.offset() for m in msgs]
    assert offsets == sorted(set(offsets)) and offsets[-1] == total
    latest = {}
    for m in msgs:
        latest[m.key()] = m.value()
    assert {k: v for k, v in latest.items() if v is not None} == expected

    # The clean is redone: exactly the latest value per key, each key once.
    def cleaned():
        msgs = read_from_beginning(broker.bootstrap, topic)
        live = {m.key(): m.value() for m in msgs if m.value() is not None}
        return len({m.key() for m in msgs}) == len(msgs) and live == expected and msgs
    msgs = wait_until(cleaned, 30, "the log to be compacted", interval=0.5)
    offsets = [m.offset() for m in msgs]
    assert offsets == sorted(set(offsets))
    assert {m.key() for m in msgs if m.value() is None} <= {f"key-{k}".encode() for k in tombstoned}

    # After delete.retention.ms the tombstones go too.
    def no_tombstones():
        msgs = read_from_beginning(broker.bootstrap, topic)
        return all(m.value() is not None for m in msgs) and msgs
    msgs = wait_until(no_tombstones, 30, "tombstones to be removed", interval=0.5)
    assert {m.key(): m.value() for m in msgs} == expected
    assert len(msgs) == len(expected)
    assert not any(p.name.endswith((".cleaned", ".swap")) for p in partition_dir(broker, topic).iterdir())


def test_delete_records_moves_log_start_offset_and_is_checkpointed(make_broker):
    broker = make_broker(FAST)
    topic = "del-records"
    create_topic(broker.bootstrap, topic, partitions=2, config={"segment.bytes": "2000"})
    p = producer(broker.bootstrap)
    for i in range(200):
        p.produce(topic, partition=i % 2, value=f"m-{i}".encode() * 5)
        if i % 20 == 19:
            p.flush(10)  # several batches, so that several segments roll
    assert p.flush(30) == 0
    admin = admin_client(broker.bootstrap)
    fs = admin.delete_records([ck.TopicPartition(topic, 0, 60), ck.TopicPartition(topic, 1, ck.OFFSET_END)],
                              request_timeout=15)
    results = {tp.partition: f.result(15) for tp, f in fs.items()}
    assert results[0].low_watermark == 60
    assert results[1].low_watermark == 100
    assert watermarks(broker.bootstrap, topic, 0) == (60, 100)
    assert watermarks(broker.bootstrap, topic, 1) == (100, 100)
    msgs = read_from_beginning(broker.bootstrap, topic)
    assert msgs[0].offset() == 60 and len(msgs) == 40

    # Beyond the high watermark: OFFSET_OUT_OF_RANGE.
    fs = admin.delete_records([ck.TopicPartition(topic, 0, 1000)], request_timeout=15)
    (f,) = fs.values()
    try:
        f.result(15)
        raise AssertionError("DeleteRecords beyond the high watermark succeeded")
    except ck.KafkaException as e:
        assert e.args[0].code() == ck.KafkaError.OFFSET_OUT_OF_RANGE, e

    # Segments wholly below the start leave the disk at the next check.
    wait_until(lambda: not (partition_dir(broker, topic) / ("0" * 20 + ".log")).exists(), 10,
               "the first segment to be deleted")
    # The log start offset was checkpointed: a kill -9 keeps it.
    broker.kill9()
    broker.start()
    assert watermarks(broker.bootstrap, topic, 0) == (60, 100)
    assert watermarks(broker.bootstrap, topic, 1) == (100, 100)


def test_retention_change_through_incremental_alter_configs_is_enforced(make_broker):
    broker = make_broker(FAST)
    topic = "ret-alter"
    create_topic(broker.bootstrap, topic, partitions=1, config={"segment.ms": "200", "file.delete.delay.ms": "0"})
    p = producer(broker.bootstrap)
    for i in range(20):
        p.produce(topic, value=b"old")
        p.flush(10)
        time.sleep(0.05)
    time.sleep(2.2)  # two retention checks with the default retention.ms: nothing goes
    assert watermarks(broker.bootstrap, topic)[0] == 0

    admin = admin_client(broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])
    for f in admin.incremental_alter_configs([res], request_timeout=15).values():
        f.result(15)
    p.produce(topic, value=b"new")
    p.flush(10)
    lo, hi = wait_until(lambda: (lambda w: w if w[0] > 0 else None)(watermarks(broker.bootstrap, topic)),
                        6, "the new retention.ms to be enforced")
    assert hi == 21 and lo >= 20

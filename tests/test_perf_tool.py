"""`strom perf`: produce and consume a bounded count against the test broker,
check the JSON report, and read the data back with confluent-kafka.

Each value is [index u64 BE][send time µs u64 BE][filler 'A'..'Z' by position]."""

import json
import struct
import subprocess
import time
import urllib.request

from conftest import STROM, assert_dense_offsets, consume_all, need_module

ck = need_module("confluent_kafka")

N = 20_000
SIZE = 100
PARTITIONS = 3
FILLER = bytes(ord("A") + j % 26 for j in range(SIZE))[16:]


def perf(*args: str, timeout: float = 60.0) -> dict:
    proc = subprocess.run([str(STROM), "perf", *args, "--json"], capture_output=True, timeout=timeout)
    assert proc.returncode == 0, f"strom perf {args} failed ({proc.returncode}): {proc.stderr.decode()}"
    lines = proc.stdout.decode().strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def check_report(report: dict, mode: str, records: int, value_bytes: int) -> None:
    assert report["mode"] == mode
    assert report["records"] == records
    assert report["bytes"] == value_bytes
    assert report["errors"] == 0
    assert report["elapsed_s"] > 0
    assert abs(report["records_per_sec"] - records / report["elapsed_s"]) < 1e-3 * report["records_per_sec"]
    assert abs(report["mb_per_sec"] - value_bytes / report["elapsed_s"] / 2**20) < 1e-3 * report["mb_per_sec"] + 1e-9


def test_perf_produce_then_consume(broker):
    topic = "perf-tool"
    t0_us = int(time.time() * 1e6)
    produced = perf(
        "produce", "--bootstrap-server", broker.bootstrap, "--topic", topic,
        "--num-records", str(N), "--record-size", str(SIZE), "--throughput", "-1",
        "--partitions", str(PARTITIONS),
        "--producer-props", "acks=all", "linger.ms=2", "batch.size=16384",
    )
    t1_us = int(time.time() * 1e6)
    check_report(produced, "produce", N, N * SIZE)
    lat = produced["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    assert lat["max"] * 1000 <= (t1_us - t0_us)

    consumed = perf(
        "consume", "--bootstrap-server", broker.bootstrap, "--topic", topic,
        "--num-records", str(N), "--timeout-ms", "10000",
    )
    check_report(consumed, "consume", N, N * SIZE)
    assert consumed["latency_ms"] is None

    # Another client reads exactly the records produced.
    by_partition = consume_all(broker.bootstrap, topic, range(PARTITIONS))
    assert_dense_offsets(by_partition)
    indexes = []
    for p, msgs in by_partition.items():
        last_ts = 0
        for m in msgs:
            v = m.value()
            assert m.key() is None
            assert len(v) == SIZE
            index, sent_us = struct.unpack(">QQ", v[:16])
            assert v[16:] == FILLER, f"partition {p} offset {m.offset()}: {v!r}"
            assert t0_us <= sent_us <= t1_us
            ts_type, ts = m.timestamp()
            assert ts_type == ck.TIMESTAMP_CREATE_TIME and ts == sent_us // 1000
            assert sent_us >= last_ts  # one producer: send times grow along a partition
            last_ts = sent_us
            indexes.append(index)
    assert sorted(indexes) == list(range(N))
    # Sticky partitioning spreads 20,000 records over every partition.
    assert all(len(msgs) > 0 for msgs in by_partition.values()), {p: len(m) for p, m in by_partition.items()}


def test_perf_e2e_and_compression(broker):
    topic = "perf-e2e"
    report = perf(
        "e2e", "--bootstrap-server", broker.bootstrap, "--topic", topic,
        "--num-records", "5000", "--record-size", "200", "--throughput", "5000",
        "--partitions", "1",
        "--producer-props", "acks=1", "linger.ms=0", "compression.type=lz4",
        "--consumer-props", "fetch.max.wait.ms=100",
    )
    check_report(report, "e2e", 5000, 5000 * 200)
    lat = report["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p99"] <= lat["max"] < 10_000
    # Throttled to 5,000 records/s: about a second.
    assert report["elapsed_s"] >= 0.9

    msgs = consume_all(broker.bootstrap, topic, [0])[0]
    assert sorted(struct.unpack(">Q", m.value()[:8])[0] for m in msgs) == list(range(5000))


def test_perf_missing_topic_fails_cleanly(broker):
    proc = subprocess.run(
        [str(STROM), "perf", "consume", "--bootstrap-server", broker.bootstrap, "--topic", "nope", "--num-records", "1"],
        capture_output=True, timeout=30,
    )
    assert proc.returncode != 0
    assert b"does not exist" in proc.stderr


def test_perf_fan_out_consumers(broker):
    """--consumers 4: four independent readers of every partition from the
    beginning; the report counts all of their records and bytes."""
    topic = "perf-fanout"
    n, size, consumers = 6_000, 256, 4
    perf(
        "produce", "--bootstrap-server", broker.bootstrap, "--topic", topic,
        "--num-records", str(n), "--record-size", str(size), "--partitions", "3",
        "--producer-props", "acks=all", "linger.ms=1",
    )
    report = perf(
        "consume", "--bootstrap-server", broker.bootstrap, "--topic", topic,
        "--num-records", str(n), "--consumers", str(consumers),
        "--broker-metrics", f"127.0.0.1:{broker.metrics_port}",
    )
    check_report(report, "consume", n * consumers, n * size * consumers)
    assert report["consumers"] == consumers and report["producers"] == 1
    assert report["broker_cpu_s"] >= 0
    assert report["broker_cores"] >= 0
    assert abs(report["broker_cpu_s_per_gb"] - report["broker_cpu_s"] / (report["bytes"] / 1e9)) < 1e-6 * max(
        1.0, report["broker_cpu_s_per_gb"])
    # Each reader fetches at least once, timed by the broker.
    fetch = report["broker_request_ms"]["Fetch"]
    assert fetch["count"] >= consumers
    assert 0 <= fetch["p50"] <= fetch["p99"] <= fetch["p99_9"]
    assert fetch["p99"] <= fetch["p99_le"] and fetch["p99_9"] <= fetch["p99_9_le"]


def test_perf_many_producers_e2e(broker):
    """--producers 40 --consumers 2 in e2e: 40 connections share the records
    and the rate; each of two consumers gets every record once."""
    topic = "perf-many-producers"
    n, size, producers, consumers = 2_000, 128, 40, 2
    # The broker's request-time buckets are fine enough for ms-level quantiles.
    body = metrics_body(broker)
    for le in ("0.00025", "0.00075", "0.0015", "0.003"):
        assert f'strom_request_duration_seconds_bucket{{api="Produce",le="{le}"}}' in body
    report = perf(
        "e2e", "--bootstrap-server", broker.bootstrap, "--topic", topic,
        "--num-records", str(n), "--record-size", str(size), "--throughput", "2000",
        "--partitions", "3", "--producers", str(producers), "--consumers", str(consumers),
        "--producer-props", "acks=all", "linger.ms=0",
        "--broker-metrics", f"127.0.0.1:{broker.metrics_port}",
    )
    check_report(report, "e2e", n * consumers, n * size * consumers)
    assert report["producers"] == producers and report["consumers"] == consumers
    lat = report["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p99"] <= lat["p99_9"] <= lat["max"]
    # 2,000 records at 2,000 records/s: about a second.
    assert report["elapsed_s"] >= 0.9
    # linger.ms=0 at a throttled rate: one Produce per record (no retries here).
    produce = report["broker_request_ms"]["Produce"]
    assert produce["count"] == n
    assert 0 <= produce["p50"] <= produce["p99"] <= produce["p99_9"] <= produce["p99_9_le"]
    assert report["broker_cores"] >= 0 and report["broker_cpu_s"] >= 0

    # Every index exactly once, spread over the three partitions.
    by_partition = consume_all(broker.bootstrap, topic, range(3))
    assert_dense_offsets(by_partition)
    indexes = sorted(struct.unpack(">Q", m.value()[:8])[0] for msgs in by_partition.values() for m in msgs)
    assert indexes == list(range(n))
    assert all(len(m) > 0 for m in by_partition.values())


def metrics_body(broker) -> str:
    with urllib.request.urlopen(f"{broker.metrics_url}/metrics", timeout=10) as r:
        return r.read().decode()

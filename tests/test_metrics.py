"""The Prometheus endpoint (metrics.listener): /health, /ready, and /metrics
accepted by `promtool check metrics`, with kafka_exporter's names showing the
exact offsets, committed offsets and lag after a known produce and commit, and
strom's own counters showing the exact number of messages in."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from conftest import create_topic, missing, need_module, wait_until

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def get(url: str, timeout: float = 10.0) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers.get("Content-Type", "")


def parse(text: str) -> dict:
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, f"unparsable sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def sample(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def promtool() -> str:
    path = shutil.which("promtool")
    if not path:
        missing("promtool (Debian's prometheus package)")
    return path


def test_health_ready_and_promtool_accepts_metrics(broker):
    status, body, _ = get(broker.metrics_url + "/health")
    assert (status, body) == (200, "ok\n")
    wait_until(lambda: get(broker.metrics_url + "/ready")[0] == 200, 20, "/ready to answer 200")
    assert get(broker.metrics_url + "/nope")[0] == 404

    create_topic(broker.bootstrap, "promtool-topic", partitions=2)
    status, text, content_type = get(broker.metrics_url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    r = subprocess.run([promtool(), "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert r.returncode == 0, f"promtool check metrics exited {r.returncode}:\n{r.stdout.decode()}{r.stderr.decode()}"
    samples = parse(text)
    assert sample(samples, "kafka_brokers") == 1
    assert sample(samples, "kafka_topic_partitions", topic="promtool-topic") == 2
    for p in (0, 1):
        labels = {"topic": "promtool-topic", "partition": p}
        assert sample(samples, "kafka_topic_partition_leader", **labels) == broker.broker_id
        assert sample(samples, "kafka_topic_partition_replicas", **labels) == 1
        assert sample(samples, "kafka_topic_partition_in_sync_replica", **labels) == 1
        assert sample(samples, "kafka_topic_partition_leader_is_preferred", **labels) == 1
        assert sample(samples, "kafka_topic_partition_under_replicated_partition", **labels) == 0
    assert sample(samples, "strom_requests_total", api="CreateTopics") >= 1
    assert sample(samples, "strom_request_duration_seconds_count", api="Metadata") >= 1


def test_offsets_lag_and_message_counters_are_exact(broker):
    ck = need_module("confluent_kafka")
    topic, group = "metrics-topic", "metrics-group"
    create_topic(broker.bootstrap, topic, partitions=2)
    produced = {0: 15, 1: 10}
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "linger.ms": 5})
    for partition, n in produced.items():
        for i in range(n):
            p.produce(topic, value=f"m{i}".encode(), key=b"k", partition=partition)
    assert p.flush(30) == 0

    # Consume some in a group, then commit exactly these positions.
    committed = {0: 7, 1: 4}
    c = ck.Consumer({
        "bootstrap.servers": broker.bootstrap,
        "broker.address.family": "v4",
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    try:
        c.subscribe([topic])
        got = 0
        deadline = time.monotonic() + 60
        while got < 5 and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        assert got >= 5, "the group consumer received nothing"
        c.commit(offsets=[ck.TopicPartition(topic, part, off) for part, off in committed.items()], asynchronous=False)

        def group_metrics():
            s = parse(get(broker.metrics_url + "/metrics")[1])
            return s if sample(s, "kafka_consumergroup_members", consumergroup=group) == 1 else None

        s = wait_until(group_metrics, 20, "kafka_consumergroup_members to show the consumer")
        assert sample(s, "strom_connections", listener="EXTERNAL") >= 1
    finally:
        c.close()

    s = parse(get(broker.metrics_url + "/metrics")[1])
    for part, n in produced.items():
        tp = {"topic": topic, "partition": part}
        assert sample(s, "kafka_topic_partition_current_offset", **tp) == n
        assert sample(s, "kafka_topic_partition_oldest_offset", **tp) == 0
        assert sample(s, "strom_log_size_bytes", **tp) > 0
        gtp = {"consumergroup": group, **tp}
        assert sample(s, "kafka_consumergroup_current_offset", **gtp) == committed[part]
        assert sample(s, "kafka_consumergroup_lag", **gtp) == n - committed[part]
    assert sample(s, "kafka_consumergroup_current_offset_sum", consumergroup=group, topic=topic) == 11
    assert sample(s, "kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == 25 - 11
    assert sample(s, "kafka_consumergroup_members", consumergroup=group) == 0
    assert sample(s, "strom_topic_messages_in_total", topic=topic) == 25
    assert sample(s, "strom_topic_bytes_in_total", topic=topic) > 0
    assert sample(s, "strom_topic_bytes_out_total", topic=topic) > 0
    assert sample(s, "strom_requests_total", api="Produce") >= 1
    assert sample(s, "strom_requests_total", api="OffsetCommit") >= 1
    assert sample(s, "strom_connections", listener="EXTERNAL") is not None

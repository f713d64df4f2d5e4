"""A Go client against strom: sarama 1.22.1 from Debian's packages
(golang-github-shopify-sarama-dev), built from tests/go/saramacheck with
Debian's golang-go in GOPATH mode (sources under /usr/share/gocode, no network).

sarama chooses request versions from its configured `Version`: with 2.1.0 it
sends Produce v3, Fetch v4, ListOffsets v1; with its default (0.8.2) Produce
v0, Fetch v0 and ListOffsets v0. Its offset manager always commits with
OffsetCommit v1 when no retention is set, in a group and outside one. Every
one of these is a version Kafka 3.5 serves.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO, create_topic, missing, need_module

SRC = REPO / "tests" / "go" / "saramacheck"
GOPATH = "/usr/share/gocode"
SARAMA = f"{GOPATH}/src/github.com/Shopify/sarama"
OUT = REPO / "target" / "go"
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
PARTITIONS = 2


@pytest.fixture(scope="module")
def saramacheck() -> str:
    """The built program, cached under target/go by the hash of its source."""
    go = shutil.which("go")
    if not go:
        missing("golang-go (the go command)")
    if not os.path.isdir(SARAMA):
        missing(f"golang-github-shopify-sarama-dev ({SARAMA})")
    digest = hashlib.sha256()
    for f in sorted(SRC.glob("*.go")):
        digest.update(f.read_bytes())
    binary = OUT / f"saramacheck-{digest.hexdigest()[:16]}"
    if not binary.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOPATH=GOPATH, GO111MODULE="off", GOPROXY="off", GOFLAGS="",
                   GOCACHE=str(OUT / "cache"), CGO_ENABLED="1")
        tmp = binary.with_suffix(".tmp")
        r = subprocess.run([go, "build", "-o", str(tmp), "."], cwd=SRC, env=env, capture_output=True, timeout=300)
        assert r.returncode == 0, f"go build failed:\n{r.stderr.decode(errors='replace')[-4000:]}"
        tmp.rename(binary)
    return str(binary)


def run(binary: str, cmd: str, broker, *args: str, timeout: float = 60.0) -> dict:
    r = subprocess.run([binary, cmd, "-brokers", broker.bootstrap, *args], capture_output=True, timeout=timeout)
    assert r.returncode == 0, (
        f"saramacheck {cmd} {' '.join(args)} exited {r.returncode}:\n{r.stderr.decode(errors='replace')[-3000:]}\n"
        f"broker log:\n{broker.log_tail()}"
    )
    return json.loads(r.stdout)


def produce_every_codec(binary, broker, topic, version, count=20) -> list[dict]:
    """Produces `count` messages per codec; returns every record the producer
    was acknowledged, asserting the offsets are dense per partition."""
    records = []
    next_offset = {p: 0 for p in range(PARTITIONS)}
    for codec in CODECS:
        out = run(binary, "produce", broker, "-topic", topic, "-version", version, "-codec", codec,
                  "-count", str(count), "-partitions", str(PARTITIONS), "-prefix", codec)
        assert out["codec"] == codec
        assert len(out["records"]) == count
        for r in out["records"]:
            assert r["offset"] == next_offset[r["partition"]], f"{codec}: offsets not dense: {out['records']}"
            next_offset[r["partition"]] += 1
        records += out["records"]
    return records


def committed(broker, group: str, topic: str) -> list[int]:
    """The group's committed offsets read with confluent-kafka (a current
    librdkafka), independently of sarama."""
    ck = need_module("confluent_kafka")
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": group})
    try:
        tps = c.committed([ck.TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=15)
        return [tp.offset for tp in sorted(tps, key=lambda t: t.partition)]
    finally:
        c.close()


def test_sarama_v2_every_codec_group_commit_and_offsets(broker, saramacheck):
    """sarama speaking 2.1.0 (zstd needs it): produce with each codec, consume
    everything in a ConsumerGroup (JoinGroup v1, SyncGroup, Heartbeat), commit
    with OffsetCommit v1, list offsets with ListOffsets v1."""
    topic = "go-v2"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    produced = produce_every_codec(saramacheck, broker, topic, "2.1.0")
    total = len(produced)

    out = run(saramacheck, "group", broker, "-topic", topic, "-version", "2.1.0", "-group", "go-group-v2",
              "-expect", str(total), "-timeout", "40s", timeout=90)
    assert not out["timed_out"], f"consumed {len(out['records'])} of {total}; errors: {out['errors']}"
    assert out["claimed"] == list(range(PARTITIONS))
    got = {(r["partition"], r["offset"]): (r["key"], r["value"]) for r in out["records"]}
    assert len(got) == len(out["records"]) == total, "duplicates in the group's consumption"
    assert got == {(r["partition"], r["offset"]): (r["key"], r["value"]) for r in produced}

    per_partition = [sum(1 for r in produced if r["partition"] == p) for p in range(PARTITIONS)]
    assert committed(broker, "go-group-v2", topic) == per_partition, f"group errors: {out['errors']}"
    offs = run(saramacheck, "offsets", broker, "-topic", topic, "-version", "2.1.0", "-group", "go-group-v2",
               "-partitions", str(PARTITIONS))
    assert offs == {"oldest": [0] * PARTITIONS, "newest": per_partition, "committed": per_partition}


def test_sarama_default_version_old_apis(broker, saramacheck):
    """sarama's default Version (0.8.2): Produce v0 (message format v0: none,
    gzip, snappy), then 0.10.0 for Produce v2 (magic 1, lz4); Fetch v0,
    ListOffsets v0, OffsetCommit v1 with generation -1 and OffsetFetch v1. A ConsumerGroup needs 0.10.2, so the
    group part runs with 0.10.2.0 (JoinGroup v1, SyncGroup v0, OffsetCommit
    v1, Fetch v3, ListOffsets v1)."""
    topic = "go-old"
    create_topic(broker.bootstrap, topic, partitions=PARTITIONS)
    records = []
    next_offset = {p: 0 for p in range(PARTITIONS)}
    # Produce v0 (magic 0) with sarama's default; sarama allows lz4 only from
    # 0.10.0 (Produce v2, magic 1); zstd needs record batches.
    for version, codec in (("default", "none"), ("default", "gzip"), ("default", "snappy"),
                           ("0.10.0.0", "none"), ("0.10.0.0", "lz4")):
        out = run(saramacheck, "produce", broker, "-topic", topic, "-version", version, "-codec", codec,
                  "-count", "10", "-partitions", str(PARTITIONS), "-prefix", f"old-{version}-{codec}")
        for r in out["records"]:
            assert r["offset"] == next_offset[r["partition"]], f"{codec}: offsets not dense: {out['records']}"
            next_offset[r["partition"]] += 1
        records += out["records"]
    per_partition = [next_offset[p] for p in range(PARTITIONS)]

    out = run(saramacheck, "partition-consume", broker, "-topic", topic, "-version", "default",
              "-group", "go-old-standalone", "-partitions", str(PARTITIONS))
    assert sorted((r["partition"], r["offset"], r["key"], r["value"]) for r in out["records"]) == sorted(
        (r["partition"], r["offset"], r["key"], r["value"]) for r in records)
    offs = run(saramacheck, "offsets", broker, "-topic", topic, "-version", "default", "-group",
               "go-old-standalone", "-partitions", str(PARTITIONS))
    assert offs == {"oldest": [0] * PARTITIONS, "newest": per_partition, "committed": per_partition}
    assert committed(broker, "go-old-standalone", topic) == per_partition

    out = run(saramacheck, "group", broker, "-topic", topic, "-version", "0.10.2.0", "-group", "go-old-group",
              "-expect", str(len(records)), "-timeout", "40s", timeout=90)
    assert not out["timed_out"], f"consumed {len(out['records'])} of {len(records)}; errors: {out['errors']}"
    assert len({(r["partition"], r["offset"]) for r in out["records"]}) == len(records)
    assert committed(broker, "go-old-group", topic) == per_partition, f"group errors: {out['errors']}"

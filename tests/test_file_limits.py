"""Open file descriptors stay bounded: with more segment files than the
broker's descriptor limit allows, every partition still takes writes, serves
reads and survives a restart and a kill -9 (issue 9, target 6).

The broker runs with RLIMIT_NOFILE = 256; it keeps at most half of that for
segment files and reopens the others on demand. 100 topics x 3 partitions are
900 segment files: without the bound the broker could not even open them.
"""

from __future__ import annotations

import os
from pathlib import Path

from conftest import admin_client, need_module

NOFILE = 256
TOPICS = [f"fd-{i:03d}" for i in range(100)]
PARTITIONS = 3
PER_PARTITION = 4


def segment_files_open(pid: int, data_dir: Path) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(data_dir)) and target.endswith((".log", ".index", ".timeindex")):
            n += 1
    return n


def produce_round(ck, bootstrap: str, round_no: int) -> None:
    p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "acks": "all",
                     "linger.ms": 5})
    failed = []
    for t in TOPICS:
        for part in range(PARTITIONS):
            for i in range(PER_PARTITION):
                p.produce(t, value=f"{t}/{part}/{round_no}/{i}".encode(), partition=part,
                          on_delivery=lambda err, msg: err and failed.append(err))
        p.poll(0)
    assert p.flush(60) == 0, "messages left unacknowledged"
    assert not failed, failed[:5]


def read_everything(ck, bootstrap: str, rounds: int) -> None:
    c = ck.Consumer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "group.id": "unused",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        c.assign([ck.TopicPartition(t, part, ck.OFFSET_BEGINNING) for t in TOPICS for part in range(PARTITIONS)])
        want = len(TOPICS) * PARTITIONS * PER_PARTITION * rounds
        got: dict[tuple[str, int], list] = {}
        import time
        deadline = time.monotonic() + 90
        n = 0
        while n < want and time.monotonic() < deadline:
            for m in c.consume(num_messages=5000, timeout=0.5):
                assert not m.error(), m.error()
                got.setdefault((m.topic(), m.partition()), []).append((m.offset(), m.value().decode()))
                n += 1
        assert n == want, f"read {n} of {want} messages"
        for t in TOPICS:
            for part in range(PARTITIONS):
                expect = [(r * PER_PARTITION + i, f"{t}/{part}/{r}/{i}")
                          for r in range(rounds) for i in range(PER_PARTITION)]
                assert got[(t, part)] == expect, (t, part, got[(t, part)][:3])
    finally:
        c.close()


def test_more_segment_files_than_descriptors(make_broker):
    ck = need_module("confluent_kafka")
    new_topic = need_module("confluent_kafka.admin").NewTopic
    b = make_broker(start=False)
    b.nofile = NOFILE
    b.start()
    limits = Path(f"/proc/{b.proc.pid}/limits").read_text()
    assert any(line.startswith("Max open files") and f" {NOFILE} " in line for line in limits.splitlines())

    a = admin_client(b.bootstrap)
    for f in a.create_topics([new_topic(t, PARTITIONS, 1) for t in TOPICS], request_timeout=60).values():
        f.result(60)
    files_on_disk = sum(1 for _ in b.data_dir.rglob("*.index"))
    assert files_on_disk >= len(TOPICS) * PARTITIONS

    produce_round(ck, b.bootstrap, 0)
    assert segment_files_open(b.proc.pid, b.data_dir) <= NOFILE // 2
    read_everything(ck, b.bootstrap, 1)

    b.stop()
    b.start()
    produce_round(ck, b.bootstrap, 1)
    read_everything(ck, b.bootstrap, 2)
    assert segment_files_open(b.proc.pid, b.data_dir) <= NOFILE // 2

    b.kill9()
    b.start()
    read_everything(ck, b.bootstrap, 2)
    assert "Too many open files" not in b.log_path.read_text()

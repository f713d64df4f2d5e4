"""Kafka's console tools in the strom binary, run under Kafka's names.

The home lab's runbook, verbatim, through symlinks made by
`strom install-tool-links`: topics (list, create, describe, delete), produce
a line, consume it, consumer groups with lag, backup and restore of a topic;
then every tool pointed at a closed port or a missing topic fails fast with a
one-line reason.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import STROM, free_port, need_module

TOOLS = ("kafka-topics", "kafka-console-producer", "kafka-console-consumer", "kafka-consumer-groups",
         "kafka-configs", "kafka-get-offsets", "kafka-broker-api-versions")


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tool-links")
    out = subprocess.run([str(STROM), "install-tool-links", str(d)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    for t in TOOLS:
        assert (d / t).is_symlink() and (d / f"{t}.sh").is_symlink(), t
    return d


def tool(bin_dir: Path, name: str, *args: str, input: str | None = None, timeout: float = 30.0,
         check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(bin_dir / name), *args], input=input, capture_output=True, text=True,
                       timeout=timeout, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    if check:
        assert p.returncode == 0, f"{name} {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def test_runbook_topics_produce_consume_backup_restore(broker, bin_dir):
    bs = ("--bootstrap-server", broker.bootstrap)
    assert tool(bin_dir, "kafka-topics", "--list", *bs).stdout == ""

    out = tool(bin_dir, "kafka-topics.sh", "--create", "--topic", "orders", "--partitions", "3",
               "--replication-factor", "1", "--config", "retention.ms=86400000", *bs).stdout
    assert out.strip() == "Created topic orders."
    # --if-not-exists: silent success; without it: an error.
    tool(bin_dir, "kafka-topics", "--create", "--if-not-exists", "--topic", "orders", "--partitions", "3", *bs)
    dup = tool(bin_dir, "kafka-topics", "--create", "--topic", "orders", "--partitions", "3", *bs, check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr

    desc = tool(bin_dir, "kafka-topics", "--describe", "--topic", "orders", *bs).stdout.splitlines()
    assert re.fullmatch(r"Topic: orders\tTopicId: [A-Za-z0-9_-]{22}\tPartitionCount: 3\tReplicationFactor: 1\t"
                        r"Configs: (.*,)?retention\.ms=86400000(,.*)?", desc[0]), desc[0]
    assert desc[1:] == [f"\tTopic: orders\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1" for p in range(3)]
    assert tool(bin_dir, "kafka-topics", "--list", *bs).stdout.split() == ["orders"]

    # Produce a keyed line; consume it back with the key.
    tool(bin_dir, "kafka-console-producer", *bs, "--topic", "orders", "--property", "parse.key=true",
         "--property", "key.separator=:", input="k1:hello\n")
    got = tool(bin_dir, "kafka-console-consumer", *bs, "--topic", "orders", "--from-beginning",
               "--max-messages", "1", "--property", "print.key=true", "--property", "key.separator=:",
               "--timeout-ms", "10000")
    assert got.stdout == "k1:hello\n"
    assert "Processed a total of 1 messages" in got.stderr
    plain = tool(bin_dir, "kafka-console-consumer", *bs, "--topic", "orders", "--from-beginning",
                 "--max-messages", "1", "--timeout-ms", "10000").stdout
    assert plain == "hello\n"

    # Backup: everything, with keys, to a file; restore into another topic.
    lines = [f"key-{i}:value {i}: with colons" for i in range(200)]
    tool(bin_dir, "kafka-console-producer", *bs, "--topic", "orders", "--property", "parse.key=true",
         "--property", "key.separator=:", input="\n".join(lines) + "\n")
    offsets = tool(bin_dir, "kafka-get-offsets", *bs, "--topic", "orders", "--time", "-1").stdout.split()
    assert sum(int(o.rsplit(":", 1)[1]) for o in offsets) == 201 and len(offsets) == 3
    backup = tool(bin_dir, "kafka-console-consumer", *bs, "--topic", "orders", "--from-beginning",
                  "--property", "print.key=true", "--property", "key.separator=:", "--timeout-ms", "2000").stdout
    assert sorted(backup.splitlines()) == sorted(lines + ["k1:hello"])
    tool(bin_dir, "kafka-topics", "--create", "--topic", "orders-restored", "--partitions", "3", *bs)
    tool(bin_dir, "kafka-console-producer", *bs, "--topic", "orders-restored", "--property", "parse.key=true",
         "--property", "key.separator=:", input=backup)
    restored = tool(bin_dir, "kafka-console-consumer", *bs, "--topic", "orders-restored", "--from-beginning",
                    "--property", "print.key=true", "--property", "key.separator=:",
                    "--max-messages", "201", "--timeout-ms", "10000").stdout
    assert sorted(restored.splitlines()) == sorted(backup.splitlines())
    # Same key, same partition (Kafka's murmur2): partition layouts match.
    by_part = lambda t: sorted(tool(bin_dir, "kafka-console-consumer", *bs, "--topic", t, "--from-beginning",
                                    "--property", "print.partition=true", "--property", "print.key=true",
                                    "--timeout-ms", "1500").stdout.splitlines())
    assert by_part("orders") == by_part("orders-restored")

    # Configs, API versions.
    tool(bin_dir, "kafka-configs", *bs, "--entity-type", "topics", "--entity-name", "orders", "--alter",
         "--add-config", "retention.ms=3600000")
    cfg = tool(bin_dir, "kafka-configs", *bs, "--entity-type", "topics", "--entity-name", "orders",
               "--describe").stdout
    assert cfg.startswith("Dynamic configs for topic orders are:\n")
    assert "  retention.ms=3600000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=3600000" in cfg
    versions = tool(bin_dir, "kafka-broker-api-versions", *bs).stdout
    assert re.search(r"\(id: 1 rack: null\) -> \(", versions) and "\tProduce(0): 0 to 9 [usable: 9]," in versions

    # Delete.
    tool(bin_dir, "kafka-topics", "--delete", "--topic", "orders-restored", *bs)
    assert tool(bin_dir, "kafka-topics", "--list", *bs).stdout.split() == ["orders"]


def test_consumer_groups_list_describe_lag_reset(broker, bin_dir):
    ck = need_module("confluent_kafka")
    bs = ("--bootstrap-server", broker.bootstrap)
    tool(bin_dir, "kafka-topics", "--create", "--topic", "events", "--partitions", "2", *bs)
    tool(bin_dir, "kafka-console-producer", *bs, "--topic", "events", "--property", "parse.key=true",
         "--property", "key.separator=:", input="".join(f"k{i}:v{i}\n" for i in range(20)))
    ends = {int(l.split(":")[1]): int(l.split(":")[2]) for l in
            tool(bin_dir, "kafka-get-offsets", *bs, "--topic", "events").stdout.split()}
    assert sum(ends.values()) == 20

    # A real group member consumes 5 records and commits, then leaves.
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "billing", "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})
    c.subscribe(["events"])
    got = 0
    deadline = time.monotonic() + 20
    while got < 5 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
            c.commit(message=m, asynchronous=False)
    assert got == 5
    committed = {tp.partition: tp.offset for tp in c.committed([ck.TopicPartition("events", p) for p in range(2)])}
    c.close()

    assert "billing" in tool(bin_dir, "kafka-consumer-groups", "--list", *bs).stdout.split()
    d = tool(bin_dir, "kafka-consumer-groups", "--describe", "--group", "billing", *bs)
    lines = [l for l in d.stdout.splitlines() if l.strip()]
    assert lines[0].split() == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                                "CONSUMER-ID", "HOST", "CLIENT-ID"]
    rows = {int(r.split()[2]): r.split() for r in lines[1:]}
    for p in range(2):
        cur = committed[p] if committed[p] >= 0 else None
        row = rows.get(p)
        if cur is None:
            assert row is None or row[3] == "-"
            continue
        assert row[:6] == ["billing", "events", str(p), str(cur), str(ends[p]), str(ends[p] - cur)], row
        assert row[6:] == ["-", "-", "-"]
    assert sum(int(r[5]) for r in rows.values() if r[5] != "-") + sum(
        ends[p] for p in range(2) if p not in rows or rows[p][3] == "-") == 15
    assert "has no active members" in d.stderr

    # Reset to earliest (dry run prints, execute commits), then the lag is everything.
    dry = tool(bin_dir, "kafka-consumer-groups", "--reset-offsets", "--group", "billing", "--topic", "events",
               "--to-earliest", "--dry-run", *bs).stdout.splitlines()
    assert dry[1].split() == ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
    assert sorted(l.split() for l in dry[2:]) == [["billing", "events", "0", "0"], ["billing", "events", "1", "0"]]
    tool(bin_dir, "kafka-consumer-groups", "--reset-offsets", "--group", "billing", "--topic", "events",
         "--to-earliest", "--execute", *bs)
    d = tool(bin_dir, "kafka-consumer-groups", "--describe", "--group", "billing", *bs).stdout
    lags = [int(l.split()[5]) for l in d.splitlines()[2:] if l.strip()]
    assert sum(lags) == 20

    # console-consumer with --group commits where it stopped.
    tool(bin_dir, "kafka-console-consumer", *bs, "--topic", "events", "--group", "billing",
         "--max-messages", "20", "--timeout-ms", "10000")
    d = tool(bin_dir, "kafka-consumer-groups", "--describe", "--group", "billing", *bs).stdout
    assert sum(int(l.split()[5]) for l in d.splitlines()[2:] if l.strip()) == 0

    out = tool(bin_dir, "kafka-consumer-groups", "--delete", "--group", "billing", *bs).stdout
    assert "Deletion of requested consumer groups ('billing') was successful." in out
    assert "billing" not in tool(bin_dir, "kafka-consumer-groups", "--list", *bs).stdout.split()


def _one_line_failure(p: subprocess.CompletedProcess, started: float, limit: float) -> None:
    assert p.returncode != 0, p
    err = p.stderr.strip()
    assert err and "\n" not in err, repr(p.stderr)
    assert "panicked" not in err and "backtrace" not in err.lower(), err
    assert time.monotonic() - started < limit


@pytest.mark.parametrize("argv", [
    ["kafka-topics", "--list"],
    ["kafka-topics", "--describe", "--topic", "x"],
    ["kafka-console-producer", "--topic", "x"],
    ["kafka-console-consumer", "--topic", "x", "--timeout-ms", "3000"],
    ["kafka-consumer-groups", "--list"],
    ["kafka-configs", "--entity-type", "topics", "--entity-name", "x", "--describe"],
    ["kafka-get-offsets", "--topic", "x"],
    ["kafka-broker-api-versions"],
])
def test_unreachable_broker_fails_fast(bin_dir, argv):
    closed = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    p = tool(bin_dir, argv[0], *argv[1:], "--bootstrap-server", closed, input="x\n", check=False, timeout=20)
    _one_line_failure(p, started, 12)
    assert closed in p.stderr


@pytest.mark.parametrize("argv", [
    ["kafka-topics", "--describe", "--topic", "nope"],
    ["kafka-topics", "--delete", "--topic", "nope"],
    ["kafka-console-producer", "--topic", "nope"],
    ["kafka-console-consumer", "--topic", "nope", "--timeout-ms", "3000"],
    ["kafka-configs", "--entity-type", "topics", "--entity-name", "nope", "--describe"],
    ["kafka-get-offsets", "--topic", "nope"],
    ["kafka-consumer-groups", "--describe", "--group", "nope"],
])
def test_missing_topic_or_group_fails_with_a_reason(broker, bin_dir, argv):
    started = time.monotonic()
    p = tool(bin_dir, argv[0], *argv[1:], "--bootstrap-server", broker.bootstrap, input="x\n", check=False)
    _one_line_failure(p, started, 12)
    assert "nope" in p.stderr

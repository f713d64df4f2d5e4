"""The console tools in pipes and scripts, under Kafka's names: a reader that
goes away (`| head -1`) ends every tool quietly with exit 0 and the console
consumer counts what it wrote; `--version`; one usage line naming the tool;
`--topic` as Kafka's regex (describe, delete) and the consumer's `--include`;
`--formatter`; and the README's backup/restore recipe (headers, keys and
their absence, null values) restoring every record exactly."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import need_module
from test_tools import bin_dir, tool  # noqa: F401 - fixture

ENV = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "RUST_BACKTRACE": "1"}


def piped(bin_dir, name: str, *args: str) -> tuple[int, str, str]:
    """`name args | head -1` through a shell: the tool's exit status (not
    head's), the one line head printed, and the tool's stderr."""
    cmd = " ".join(f"'{a}'" for a in [str(bin_dir / name), *args])
    script = f"set -o pipefail; {cmd} 2>tool.err | head -1; echo \"rc=${{PIPESTATUS[0]}}\"; cat tool.err >&2"
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=ENV,
                       cwd=bin_dir)
    lines = p.stdout.splitlines()
    rc = int(lines[-1].removeprefix("rc="))
    return rc, "\n".join(lines[:-1]), p.stderr


@pytest.fixture
def loaded(broker, bin_dir):
    """A broker with 40 topics of 3 partitions, 3000 records in one, and a group with offsets."""
    ck = need_module("confluent_kafka")
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    names = [f"pipe-{i:02d}" for i in range(40)]
    for f in admin.create_topics([NewTopic(n, 3, 1) for n in names]).values():
        f.result(20)
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 20})
    for i in range(3000):
        p.produce("pipe-00", value=b"x" * 100 + str(i).encode(), key=str(i % 7).encode())
    assert p.flush(30) == 0
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "pipe-group", "enable.auto.commit": False})
    c.commit(offsets=[ck.TopicPartition("pipe-00", q, 1) for q in range(3)], asynchronous=False)
    c.close()
    return broker


def test_tools_end_quietly_when_the_reader_goes_away(loaded, bin_dir):
    bs = ("--bootstrap-server", loaded.bootstrap)
    cases = [
        ("kafka-topics", "--describe", *bs),
        ("kafka-topics", "--list", *bs),
        ("kafka-consumer-groups", "--describe", "--group", "pipe-group", *bs),
        ("kafka-consumer-groups", "--list", *bs),
        ("kafka-get-offsets", *bs),
        ("kafka-broker-api-versions", *bs),
    ]
    for name, *args in cases:
        rc, line, err = piped(bin_dir, name, *args)
        assert rc == 0, (name, args, rc, err)
        assert "panicked" not in err and "Broken pipe" not in err and "Error" not in err, (name, args, err)
        assert line != "" or name == "kafka-consumer-groups", (name, args)
    rc, line, err = piped(bin_dir, "kafka-console-consumer", *bs, "--topic", "pipe-00", "--from-beginning",
                          "--timeout-ms", "3000")
    assert rc == 0 and line.startswith("x" * 100), (rc, line, err)
    assert "panicked" not in err and "Broken pipe" not in err, err
    m = re.fullmatch(r"Processed a total of (\d+) messages\n", err)
    assert m, err
    # What was written reached the pipe (up to the pipe's buffer), never all 3000.
    assert 1 <= int(m.group(1)) < 3000, err


def test_version_and_usage_name_the_tool(bin_dir):
    for name in ("kafka-topics", "kafka-console-consumer", "kafka-consumer-groups"):
        p = tool(bin_dir, name, "--version")
        assert re.fullmatch(rf"{name} \d+\.\d+\.\d+\n", p.stdout), p.stdout
        bad = tool(bin_dir, name, "--no-such-flag", check=False)
        assert bad.returncode == 2
        usage = [l for l in bad.stderr.splitlines() if l.startswith("Usage:")]
        assert len(usage) == 1 and re.match(rf"Usage: {name} \[OPTIONS\]", usage[0]), bad.stderr


def test_topic_regex_include_and_formatter(broker, bin_dir):
    bs = ("--bootstrap-server", broker.bootstrap)
    for t in ("dev.a", "dev.b", "prod.a"):
        tool(bin_dir, "kafka-topics", "--create", "--topic", t, "--partitions", "1", *bs)
        tool(bin_dir, "kafka-console-producer", "--topic", t, *bs, input=f"in-{t}\n")
    desc = tool(bin_dir, "kafka-topics", "--describe", "--topic", "dev.*", *bs).stdout
    assert [l.split("\t")[0] for l in desc.splitlines() if l.startswith("Topic:")] == ["Topic: dev.a", "Topic: dev.b"]
    missing = tool(bin_dir, "kafka-topics", "--describe", "--topic", "nothing.*", *bs, check=False)
    assert missing.returncode == 1 and missing.stderr == "Error: topic 'nothing.*' does not exist\n"
    bad = tool(bin_dir, "kafka-topics", "--describe", "--topic", "(", *bs, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: --topic '(' is not a valid regular expression")

    got = tool(bin_dir, "kafka-console-consumer", "--include", "dev.*", "--from-beginning", "--timeout-ms", "2000", *bs)
    assert sorted(got.stdout.splitlines()) == ["in-dev.a", "in-dev.b"]
    assert "Processed a total of 2 messages" in got.stderr
    for formatter in ("kafka.tools.DefaultMessageFormatter", "org.apache.kafka.tools.consumer.DefaultMessageFormatter"):
        got = tool(bin_dir, "kafka-console-consumer", "--topic", "prod.a", "--formatter", formatter,
                   "--property", "print.partition=true", "--from-beginning", "--max-messages", "1", *bs)
        assert got.stdout == "Partition:0\tin-prod.a\n"
    got = tool(bin_dir, "kafka-console-consumer", "--topic", "prod.a", "--formatter", "kafka.tools.NoOpMessageFormatter",
               "--from-beginning", "--max-messages", "1", *bs)
    assert got.stdout == "" and "Processed a total of 1 messages" in got.stderr
    nope = tool(bin_dir, "kafka-console-consumer", "--topic", "prod.a", "--formatter", "com.x.Mine", *bs, check=False)
    assert nope.returncode == 1 and "--formatter com.x.Mine" in nope.stderr

    tool(bin_dir, "kafka-topics", "--delete", "--topic", "dev\\..*", *bs)
    assert tool(bin_dir, "kafka-topics", "--list", *bs).stdout.split() == ["prod.a"]


def test_backup_restore_recipe_keeps_keys_headers_and_nulls(broker, bin_dir):
    """The README's recipe, flags as written there."""
    ck = need_module("confluent_kafka")
    bs = ("--bootstrap-server", broker.bootstrap)
    tool(bin_dir, "kafka-topics", "--create", "--topic", "t", "--partitions", "1", *bs)
    tool(bin_dir, "kafka-topics", "--create", "--topic", "t-restored", "--partitions", "1", *bs)
    records = [
        (b"k1", b"plain keyed", []),
        (None, b"no key", []),
        (b"k2", b"with headers", [("trace", b"abc"), ("n", b"1")]),
        (None, b"no key, headers", [("h", b"v")]),
        (b"k3", None, []),  # a tombstone
        (b"k4", b"null header value", [("empty", None)]),
        (b"k5", b"null", []),  # the word null is not a null
    ]
    p = ck.Producer({"bootstrap.servers": broker.bootstrap})
    for k, v, h in records:
        p.produce("t", key=k, value=v, headers=h)
    assert p.flush(20) == 0
    backup = tool(bin_dir, "kafka-console-consumer", *bs, "--topic", "t", "--from-beginning", "--timeout-ms", "3000",
                  "--property", "print.key=true", "--property", "print.headers=true",
                  "--property", "null.literal=<null>").stdout
    assert len(backup.splitlines()) == len(records)
    tool(bin_dir, "kafka-console-producer", *bs, "--topic", "t-restored", "--property", "parse.key=true",
         "--property", "parse.headers=true", "--property", "null.marker=<null>", input=backup)
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "restore-check",
                     "auto.offset.reset": "earliest"})
    c.assign([ck.TopicPartition("t-restored", 0, 0)])
    got = []
    while len(got) < len(records):
        m = c.poll(10)
        assert m is not None, got
        assert not m.error(), m.error()
        got.append((m.key(), m.value(), [(k, v) for k, v in (m.headers() or [])]))
    c.close()
    assert got == [(k, v, h) for k, v, h in records]

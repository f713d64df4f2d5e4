"""The operator APIs of Kafka 3.5 beyond produce/fetch/groups, every
advertised version over raw frames (tests/wire.py) and through the clients
that have them, plus their console tools under Kafka's names:
DescribeLogDirs, OffsetForLeaderEpoch (the leader-epoch-checkpoint file),
DescribeProducers, ElectLeaders, List/AlterPartitionReassignments."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import wire
from conftest import STROM, admin_client, api_versions, create_topic, need_module

ck = need_module("confluent_kafka")

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_REPLICA_ASSIGNMENT = 39
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
ELECTION_NOT_NEEDED = 84
NO_REASSIGNMENT_IN_PROGRESS = 85


def run_tool(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the binary under Kafka's tool name (argv[0]), as a symlink would."""
    p = subprocess.run([name, *args], executable=str(STROM), capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    if check:
        assert p.returncode == 0, f"{name} {args}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def produce(bootstrap: str, topic: str, partition: int, n: int, idempotent: bool = False, flushes: int = 1):
    p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "linger.ms": 0,
                     "enable.idempotence": idempotent})
    errors = []
    per = max(n // flushes, 1)
    for i in range(n):
        p.produce(topic, value=b"v%05d" % i, partition=partition,
                  on_delivery=lambda err, _m: errors.append(err) if err else None)
        if (i + 1) % per == 0:
            assert p.flush(20) == 0
    assert p.flush(20) == 0 and not errors, errors


def advertised(broker) -> dict:
    return api_versions("127.0.0.1", broker.external_port, version=0)["api_versions"]


# -- DescribeLogDirs ---------------------------------------------------------

LOG_DIRS_REQ = [("topics", ("narray", [("topic", "str"), ("partitions", ("array", "i32"))]))]


def log_dirs_resp(v):
    part = [("partition_index", "i32"), ("partition_size", "i64"), ("offset_lag", "i64"), ("is_future_key", "bool")]
    result = [("error_code", "i16"), ("log_dir", "str"),
              ("topics", ("array", [("name", "str"), ("partitions", ("array", part))]))]
    if v >= 4:
        result += [("total_bytes", "i64"), ("usable_bytes", "i64")]
    schema = [("throttle_time_ms", "i32")]
    if v >= 3:
        schema.append(("error_code", "i16"))
    return schema + [("results", ("array", result))]


def segment_bytes(data_dir: Path, topic: str, partition: int) -> int:
    return sum(f.stat().st_size for f in (data_dir / f"{topic}-{partition}").glob("*.log"))


def test_describe_log_dirs_every_version_and_tool(broker):
    assert advertised(broker)[35] == (0, 4)
    create_topic(broker.bootstrap, "dirs", partitions=2)
    create_topic(broker.bootstrap, "other", partitions=1)
    produce(broker.bootstrap, "dirs", 1, 50)
    size1 = segment_bytes(broker.data_dir, "dirs", 1)
    assert size1 > 50 * 6
    log_dir = os.path.abspath(broker.data_dir)
    st = os.statvfs(log_dir)
    for v in range(5):
        body = wire.call(broker.bootstrap, 35, v, LOG_DIRS_REQ, {"topics": None}, log_dirs_resp(v), flexible=v >= 2)
        (result,) = body["results"]
        assert result["error_code"] == 0 and result["log_dir"] == log_dir
        sizes = {(t["name"], p["partition_index"]): (p["partition_size"], p["offset_lag"], p["is_future_key"])
                 for t in result["topics"] for p in t["partitions"]}
        assert sizes == {("dirs", 0): (0, 0, False), ("dirs", 1): (size1, 0, False), ("other", 0): (0, 0, False)}, v
        if v >= 4:
            assert result["total_bytes"] == st.f_blocks * st.f_frsize
            assert abs(result["usable_bytes"] - st.f_bavail * st.f_frsize) < 64 << 20
    # Named partitions: every topic of the dir is listed, with only those partitions (Kafka's answer).
    body = wire.call(broker.bootstrap, 35, 4, LOG_DIRS_REQ, {"topics": [{"topic": "dirs", "partitions": [1, 7]}]},
                     log_dirs_resp(4), flexible=True)
    topics = {t["name"]: [p["partition_index"] for p in t["partitions"]] for t in body["results"][0]["topics"]}
    assert topics == {"dirs": [1], "other": []}

    out = run_tool("kafka-log-dirs", "--bootstrap-server", broker.bootstrap, "--describe", "--topic-list", "dirs").stdout
    lines = out.splitlines()
    assert lines[:2] == ["Querying brokers for log directories information",
                         "Received log directory information from brokers 1"]
    assert lines[2] == json.dumps({"version": 1, "brokers": [{"broker": 1, "logDirs": [{
        "logDir": log_dir, "error": None, "partitions": [
            {"partition": "dirs-0", "size": 0, "offsetLag": 0, "isFuture": False},
            {"partition": "dirs-1", "size": size1, "offsetLag": 0, "isFuture": False}]}]}]}, separators=(",", ":"))
    bad = run_tool("kafka-log-dirs.sh", "--bootstrap-server", broker.bootstrap, "--describe", "--broker-list", "1,5")
    assert bad.stdout.strip() == "ERROR: The given brokers do not exist from --broker-list: 5. Current existent brokers: 1"


# -- OffsetForLeaderEpoch --------------------------------------------------

def ofle_req(v):
    part = [("partition", "i32")] + ([("current_leader_epoch", "i32")] if v >= 2 else []) + [("leader_epoch", "i32")]
    schema = [("replica_id", "i32")] if v >= 3 else []
    return schema + [("topics", ("array", [("topic", "str"), ("partitions", ("array", part))]))]


def ofle_resp(v):
    part = [("error_code", "i16"), ("partition", "i32")] + ([("leader_epoch", "i32")] if v >= 1 else []) + \
        [("end_offset", "i64")]
    schema = [("throttle_time_ms", "i32")] if v >= 2 else []
    return schema + [("topics", ("array", [("topic", "str"), ("partitions", ("array", part))]))]


def ofle(broker, v, topic, partitions):
    """partitions: [(partition, current_leader_epoch, leader_epoch)] -> {partition: (error, epoch, end)}"""
    req = {"replica_id": -1, "topics": [{"topic": topic, "partitions": [
        {"partition": p, "current_leader_epoch": c, "leader_epoch": e} for p, c, e in partitions]}]}
    body = wire.call(broker.bootstrap, 23, v, ofle_req(v), req, ofle_resp(v), flexible=v >= 4)
    (t,) = body["topics"]
    return {p["partition"]: (p["error_code"], p.get("leader_epoch"), p["end_offset"]) for p in t["partitions"]}


def test_offset_for_leader_epoch_from_the_checkpoint_file(broker):
    assert advertised(broker)[23] == (0, 4)
    create_topic(broker.bootstrap, "epochs", partitions=2)
    produce(broker.bootstrap, "epochs", 0, 7)
    checkpoint = broker.data_dir / "epochs-0" / "leader-epoch-checkpoint"
    assert checkpoint.read_text() == "0\n1\n0 0\n"
    for v in range(5):
        got = ofle(broker, v, "epochs", [(0, -1, 0), (1, -1, 0), (9, -1, 0)])
        epoch = (lambda e: e) if v >= 1 else (lambda e: None)
        assert got[0] == (0, epoch(0), 7), (v, got)
        assert got[1] == (0, epoch(0), 0)
        assert got[9] == (UNKNOWN_TOPIC_OR_PARTITION, epoch(-1), -1)
        # An epoch above every known one: undefined epoch and offset, no error.
        assert ofle(broker, v, "epochs", [(0, -1, 3)])[0] == (0, epoch(-1), -1)
        if v >= 2:
            assert ofle(broker, v, "epochs", [(0, 1, 0)])[0] == (UNKNOWN_LEADER_EPOCH, -1, -1)
            assert ofle(broker, v, "epochs", [(0, 0, 0)])[0] == (0, 0, 7)
    assert ofle(broker, 4, "missing", [(0, -1, 0)])[0] == (UNKNOWN_TOPIC_OR_PARTITION, -1, -1)
    # The cache survives a restart and a kill -9 (recovery keeps it consistent).
    broker.stop()
    broker.start()
    assert ofle(broker, 4, "epochs", [(0, 0, 0)])[0] == (0, 0, 7)
    produce(broker.bootstrap, "epochs", 0, 3)
    broker.kill9()
    broker.start()
    assert ofle(broker, 3, "epochs", [(0, 0, 0)])[0] == (0, 0, 10)
    assert checkpoint.read_text() == "0\n1\n0 0\n"


# -- DescribeProducers -------------------------------------------------------

PRODUCERS_REQ = [("topics", ("array", [("name", "str"), ("partition_indexes", ("array", "i32"))]))]
PRODUCERS_RESP = [("throttle_time_ms", "i32"), ("topics", ("array", [("name", "str"), ("partitions", ("array", [
    ("partition_index", "i32"), ("error_code", "i16"), ("error_message", "nstr"), ("active_producers", ("array", [
        ("producer_id", "i64"), ("producer_epoch", "i32"), ("last_sequence", "i32"), ("last_timestamp", "i64"),
        ("coordinator_epoch", "i32"), ("current_txn_start_offset", "i64")]))]))]))]


def test_describe_producers_and_tool(broker):
    assert advertised(broker)[61] == (0, 0)
    create_topic(broker.bootstrap, "pids", partitions=2)
    produce(broker.bootstrap, "pids", 0, 6, idempotent=True, flushes=3)
    body = wire.call(broker.bootstrap, 61, 0, PRODUCERS_REQ,
                     {"topics": [{"name": "pids", "partition_indexes": [0, 1, 5]}, {"name": "nope", "partition_indexes": [0]}]},
                     PRODUCERS_RESP, flexible=True)
    parts = {(t["name"], p["partition_index"]): p for t in body["topics"] for p in t["partitions"]}
    (prod,) = parts[("pids", 0)]["active_producers"]
    assert prod["producer_id"] >= 0 and prod["producer_epoch"] == 0 and prod["last_sequence"] == 5
    assert prod["coordinator_epoch"] == -1 and prod["current_txn_start_offset"] == -1 and prod["last_timestamp"] > 0
    assert parts[("pids", 1)]["error_code"] == 0 and parts[("pids", 1)]["active_producers"] == []
    assert parts[("pids", 5)]["error_code"] == UNKNOWN_TOPIC_OR_PARTITION
    assert parts[("nope", 0)]["error_code"] == UNKNOWN_TOPIC_OR_PARTITION

    out = run_tool("kafka-transactions", "--bootstrap-server", broker.bootstrap, "describe-producers",
                   "--topic", "pids", "--partition", "0").stdout.splitlines()
    headers = ["ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence", "LastTimestamp",
               "CurrentTransactionStartOffset"]
    assert [c.strip() for c in out[0].split("\t")] == headers + [""]
    row = [str(prod["producer_id"]), "0", "-1", "5", str(prod["last_timestamp"]), "None"]
    assert [c.strip() for c in out[1].split("\t")] == row + [""]
    assert all(len(a) == len(b) for a, b in zip(out[0].split("\t"), out[1].split("\t")))
    bad = run_tool("kafka-transactions", "--bootstrap-server", broker.bootstrap, "describe-producers",
                   "--topic", "nope", "--partition", "0", check=False)
    assert bad.returncode == 1 and "Failed to describe producers for partition nope-0 on leader" in bad.stderr


# -- ElectLeaders and partition reassignments -------------------------------

def elect_req(v):
    schema = [("election_type", "i8")] if v >= 1 else []
    return schema + [("topic_partitions", ("narray", [("topic", "str"), ("partitions", ("array", "i32"))])),
                     ("timeout_ms", "i32")]


def elect_resp(v):
    schema = [("throttle_time_ms", "i32")] + ([("error_code", "i16")] if v >= 1 else [])
    return schema + [("replica_election_results", ("array", [("topic", "str"), ("partition_result", ("array", [
        ("partition_id", "i32"), ("error_code", "i16"), ("error_message", "nstr")]))]))]


LIST_REASSIGN_REQ = [("timeout_ms", "i32"),
                     ("topics", ("narray", [("name", "str"), ("partition_indexes", ("array", "i32"))]))]
LIST_REASSIGN_RESP = [("throttle_time_ms", "i32"), ("error_code", "i16"), ("error_message", "nstr"),
                      ("topics", ("array", [("name", "str"), ("partitions", ("array", [
                          ("partition_index", "i32"), ("replicas", ("array", "i32")),
                          ("adding_replicas", ("array", "i32")), ("removing_replicas", ("array", "i32"))]))]))]
ALTER_REASSIGN_REQ = [("timeout_ms", "i32"), ("topics", ("array", [("name", "str"), ("partitions", ("array", [
    ("partition_index", "i32"), ("replicas", ("narray", "i32"))]))]))]
ALTER_REASSIGN_RESP = [("throttle_time_ms", "i32"), ("error_code", "i16"), ("error_message", "nstr"),
                       ("responses", ("array", [("name", "str"), ("partitions", ("array", [
                           ("partition_index", "i32"), ("error_code", "i16"), ("error_message", "nstr")]))]))]


def test_elect_leaders_and_reassignments_single_broker_answers(broker):
    apis = advertised(broker)
    assert (apis[43], apis[45], apis[46]) == ((0, 2), (0, 0), (0, 0))
    create_topic(broker.bootstrap, "lead", partitions=2)
    for v in range(3):
        for etype in ([0] if v == 0 else [0, 1]):
            body = wire.call(broker.bootstrap, 43, v, elect_req(v), {
                "election_type": etype, "timeout_ms": 5000,
                "topic_partitions": [{"topic": "lead", "partitions": [0, 1, 4]}, {"topic": "gone", "partitions": [0]}]},
                elect_resp(v), flexible=v >= 2)
            codes = {(r["topic"], p["partition_id"]): p["error_code"]
                     for r in body["replica_election_results"] for p in r["partition_result"]}
            assert codes == {("lead", 0): ELECTION_NOT_NEEDED, ("lead", 1): ELECTION_NOT_NEEDED,
                             ("lead", 4): UNKNOWN_TOPIC_OR_PARTITION, ("gone", 0): UNKNOWN_TOPIC_OR_PARTITION}, (v, etype)
        # All partitions: those that needed no election are left out.
        body = wire.call(broker.bootstrap, 43, v, elect_req(v), {"election_type": 0, "timeout_ms": 5000,
                         "topic_partitions": None}, elect_resp(v), flexible=v >= 2)
        assert body["replica_election_results"] == [] and body.get("error_code", 0) == 0

    # confluent-kafka's AdminClient.elect_leaders sees Kafka's ElectionNotNeeded.
    admin = admin_client(broker.bootstrap)
    tp = ck.TopicPartition("lead", 0)
    result = admin.elect_leaders(ck.ElectionType.PREFERRED, [tp]).result(20)
    (err,) = result.values()
    assert err is not None and err.code() == ELECTION_NOT_NEEDED

    out = run_tool("kafka-leader-election", "--bootstrap-server", broker.bootstrap, "--election-type", "preferred",
                   "--topic", "lead", "--partition", "1").stdout
    assert out == "Valid replica already elected for partitions lead-1\n"
    out = run_tool("kafka-leader-election", "--bootstrap-server", broker.bootstrap, "--election-type", "PREFERRED",
                   "--all-topic-partitions").stdout
    assert out == ""
    bad = run_tool("kafka-leader-election", "--bootstrap-server", broker.bootstrap, "--election-type", "preferred",
                   "--topic", "gone", "--partition", "0", check=False)
    assert bad.returncode == 1
    assert bad.stdout.startswith("Error completing leader election (PREFERRED) for partition: gone-0: "
                                 "org.apache.kafka.common.errors.UnknownTopicOrPartitionException")

    body = wire.call(broker.bootstrap, 46, 0, LIST_REASSIGN_REQ, {"timeout_ms": 5000, "topics": None},
                     LIST_REASSIGN_RESP, flexible=True)
    assert body["error_code"] == 0 and body["topics"] == []
    body = wire.call(broker.bootstrap, 45, 0, ALTER_REASSIGN_REQ, {"timeout_ms": 5000, "topics": [
        {"name": "lead", "partitions": [
            {"partition_index": 0, "replicas": [1]},
            {"partition_index": 1, "replicas": [1, 2]},
            {"partition_index": 1, "replicas": None},
            {"partition_index": 1, "replicas": []},
        ]},
        {"name": "gone", "partitions": [{"partition_index": 0, "replicas": [1]}]}]},
        ALTER_REASSIGN_RESP, flexible=True)
    codes = [(r["name"], p["partition_index"], p["error_code"]) for r in body["responses"] for p in r["partitions"]]
    assert codes == [("lead", 0, 0), ("lead", 1, INVALID_REPLICA_ASSIGNMENT), ("lead", 1, NO_REASSIGNMENT_IN_PROGRESS),
                     ("lead", 1, INVALID_REPLICA_ASSIGNMENT), ("gone", 0, UNKNOWN_TOPIC_OR_PARTITION)]
    out = run_tool("kafka-reassign-partitions", "--bootstrap-server", broker.bootstrap, "--list").stdout
    assert out == "No partition reassignments found.\n"

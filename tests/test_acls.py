"""ACLs: Kafka's AclAuthorizer semantics against the real binary.

Every connection here is User:ANONYMOUS (PLAINTEXT). The module's broker is
first started with super.users=User:ANONYMOUS to create the topics and, with
`kafka-acls`, the one ACL the tests administer with (ALTER on the cluster);
it is then restarted without super users, so that ACL must have survived the
restart. Each test then shows operations denied without an ACL and allowed
with one (confluent-kafka's AdminClient create_acls/delete_acls), for topics,
groups and the cluster, literal and prefixed, with deny winning over allow,
driven by confluent-kafka, kafka-python and kcat. The ZooKeeper test checks
the znodes in Kafka's format and an ACL written by another writer (kazoo,
with its change notification).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from conftest import STROM, Broker, create_topic, kcat_metadata, wait_until, need_module
import wire
from test_new_apis import LIST_REASSIGN_REQ, LIST_REASSIGN_RESP

AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"
ME = "User:ANONYMOUS"
TOPIC_AUTH, GROUP_AUTH, CLUSTER_AUTH, TXN_AUTH, SECURITY_DISABLED = 29, 30, 31, 53, 54

ck = need_module("confluent_kafka")
ck_admin = need_module("confluent_kafka.admin")
from confluent_kafka.admin import (  # noqa: E402
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType, ResourceType,
)


def run_tool(name: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    """The binary under Kafka's tool name (argv[0]), as a symlink would run it."""
    return subprocess.run([name, *args], executable=str(STROM), capture_output=True, text=True, timeout=60,
                          input=input, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


_ADMINS: dict = {}


def admin(b) -> "ck_admin.AdminClient":
    """One AdminClient per broker, kept alive (a destroyed one fails its futures with _DESTROY)."""
    if b.bootstrap not in _ADMINS:
        _ADMINS[b.bootstrap] = ck_admin.AdminClient({"bootstrap.servers": b.bootstrap, "broker.address.family": "v4"})
    return _ADMINS[b.bootstrap]


def binding(rtype, name, op, perm=AclPermissionType.ALLOW, pattern=ResourcePatternType.LITERAL,
            principal=ME, host="*") -> AclBinding:
    return AclBinding(rtype, name, pattern, principal, host, op, perm)


def as_filter(b: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
                            b.permission_type)


def grant(b, *bindings: AclBinding) -> None:
    for f in admin(b).create_acls(list(bindings), request_timeout=10).values():
        f.result(10)


def revoke(b, *bindings: AclBinding) -> None:
    for f in admin(b).delete_acls([as_filter(x) for x in bindings], request_timeout=10).values():
        f.result(10)


def error_code(exc) -> int:
    err = exc.args[0] if exc.args else None
    return err.code() if hasattr(err, "code") else -1


def produce(b, topic: str, n: int = 3, **conf) -> list:
    """Produces n records with a fresh producer; returns the delivery errors (None = delivered)."""
    p = ck.Producer({"bootstrap.servers": b.bootstrap, "broker.address.family": "v4",
                     "message.timeout.ms": 8000, "socket.timeout.ms": 5000, **conf})
    errors = []
    for i in range(n):
        p.produce(topic, value=b"v%d" % i, on_delivery=lambda err, msg: errors.append(err))
    p.flush(20)
    return errors


def codes(errors: list) -> set:
    return {e.code() if e is not None else 0 for e in errors}


@pytest.fixture(scope="module")
def secured():
    b = Broker(extra_overrides={"authorizer.class.name": AUTHORIZER, "super.users": ME,
                                "group.initial.rebalance.delay.ms": "0"})
    b.start()
    try:
        for t in ("t", "pay-orders", "deployment-webhooks", "spare"):
            create_topic(b.bootstrap, t, 1)
        # The administering ACL, through the tool under Kafka's name.
        r = run_tool("kafka-acls", "--bootstrap-server", b.bootstrap, "--add", "--allow-principal", ME,
                     "--operation", "Alter", "--cluster")
        assert r.returncode == 0, r.stderr
        assert "Adding ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`" in r.stdout
        assert "(principal=User:ANONYMOUS, host=*, operation=ALTER, permissionType=ALLOW)" in r.stdout
        b.stop()
        assert (b.data_dir / "strom-acls.json").exists()
        del b.extra_overrides["super.users"]
        b.start()
        yield b
    finally:
        if b.running:
            b.stop()
        b.cleanup(keep=False)


@pytest.fixture
def clean(secured):
    """Each test leaves only the administering ACL behind."""
    yield secured
    keep = binding(ResourceType.BROKER, "kafka-cluster", AclOperation.ALTER)
    found = admin(secured).describe_acls(
        AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                         AclPermissionType.ANY), request_timeout=10).result(10)
    others = [x for x in found if not (x.restype == keep.restype and x.operation == keep.operation
                                       and x.permission_type == keep.permission_type)]
    if others:
        revoke(secured, *others)


def test_the_tools_acl_survived_the_restart_and_lists(clean):
    r = run_tool("kafka-acls", "--bootstrap-server", clean.bootstrap, "--list", "--cluster")
    assert r.returncode == 0, r.stderr
    assert "Current ACLs for resource `ResourcePattern(resourceType=CLUSTER, name=kafka-cluster, patternType=LITERAL)`" in r.stdout
    assert "operation=ALTER, permissionType=ALLOW" in r.stdout
    doc = json.loads((clean.data_dir / "strom-acls.json").read_text())
    assert {"resourceType": "Cluster", "patternType": "LITERAL", "name": "kafka-cluster", "principal": ME,
            "permissionType": "Allow", "operation": "Alter", "host": "*"} in doc["acls"]


def test_produce_and_metadata_need_write_or_describe_on_the_topic(clean):
    b = clean
    assert codes(produce(b, "t")) == {TOPIC_AUTH}
    # All-topics Metadata (kcat -L) leaves out the topics it may not describe.
    names = {t["topic"] for t in kcat_metadata(b.bootstrap)["topics"]}
    assert "t" not in names and "spare" not in names
    grant(b, binding(ResourceType.TOPIC, "t", AclOperation.WRITE))
    assert codes(produce(b, "t")) == {0}
    names = {t["topic"] for t in kcat_metadata(b.bootstrap)["topics"]}
    assert "t" in names and "spare" not in names  # WRITE implies DESCRIBE
    # Named in a Metadata request: TOPIC_AUTHORIZATION_FAILED.
    md = admin(b).list_topics(topic="spare", timeout=10)
    assert md.topics["spare"].error.code() == TOPIC_AUTH
    # DESCRIBE alone: the producer finds the topic, the Produce itself is denied ...
    grant(b, binding(ResourceType.TOPIC, "spare", AclOperation.DESCRIBE))
    assert codes(produce(b, "spare")) == {TOPIC_AUTH}
    # ... and logged in Kafka's authorizer-log form.
    log = b.log_path.read_text()
    assert ("Principal = User:ANONYMOUS is Denied Operation = Write from host = 127.0.0.1 on resource = "
            "Topic:LITERAL:spare for request = Produce with resourceRefCount = 1") in log
    assert ("Principal = User:ANONYMOUS is Denied Operation = Describe from host = 127.0.0.1 on resource = "
            "Topic:LITERAL:t for request = Metadata with resourceRefCount = 1") in log


def test_prefixed_patterns_and_deny_wins_over_allow(clean):
    b = clean
    assert codes(produce(b, "pay-orders")) == {TOPIC_AUTH}
    grant(b, binding(ResourceType.TOPIC, "pay-", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED))
    assert codes(produce(b, "pay-orders")) == {0}
    assert codes(produce(b, "t")) == {TOPIC_AUTH}
    # A DENY on the literal topic wins over the prefixed ALLOW.
    grant(b, binding(ResourceType.TOPIC, "pay-orders", AclOperation.WRITE, perm=AclPermissionType.DENY))
    assert codes(produce(b, "pay-orders")) == {TOPIC_AUTH}
    # A DENY for another host does not apply.
    revoke(b, binding(ResourceType.TOPIC, "pay-orders", AclOperation.WRITE, perm=AclPermissionType.DENY))
    grant(b, binding(ResourceType.TOPIC, "pay-orders", AclOperation.WRITE, perm=AclPermissionType.DENY,
                     host="10.1.2.3"))
    assert codes(produce(b, "pay-orders")) == {0}
    # The wildcard principal and resource.
    revoke(b, binding(ResourceType.TOPIC, "pay-", AclOperation.WRITE, pattern=ResourcePatternType.PREFIXED))
    assert codes(produce(b, "spare")) == {TOPIC_AUTH}
    grant(b, binding(ResourceType.TOPIC, "*", AclOperation.WRITE, principal="User:*"))
    assert codes(produce(b, "spare")) == {0}


def test_fetch_needs_read_and_kcat_consumes_with_it(clean):
    kafka = need_module("kafka")
    b = clean
    grant(b, binding(ResourceType.TOPIC, "deployment-webhooks", AclOperation.WRITE))
    assert codes(produce(b, "deployment-webhooks", 5)) == {0}
    # DESCRIBE (implied by WRITE) lets kafka-python find the partition; the fetch itself needs READ.
    tp = kafka.TopicPartition("deployment-webhooks", 0)
    c = kafka.KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False)
    try:
        c.assign([tp])
        c.seek(tp, 0)
        with pytest.raises(kafka.errors.TopicAuthorizationFailedError):
            for _ in range(20):
                c.poll(timeout_ms=500)
    finally:
        c.close()
    grant(b, binding(ResourceType.TOPIC, "deployment-webhooks", AclOperation.READ))
    r = subprocess.run(["kcat", "-C", "-b", b.bootstrap, "-X", "broker.address.family=v4", "-t",
                        "deployment-webhooks", "-p", "0", "-o", "beginning", "-e", "-f", "%s\n"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split() == [f"v{i}" for i in range(5)]


def test_groups_need_read_on_the_group(clean):
    kafka = need_module("kafka")
    b = clean
    grant(b, binding(ResourceType.TOPIC, "t", AclOperation.WRITE), binding(ResourceType.TOPIC, "t", AclOperation.READ))
    assert codes(produce(b, "t", 2)) == {0}

    def consume(group):
        c = kafka.KafkaConsumer("t", bootstrap_servers=b.bootstrap, group_id=group, auto_offset_reset="earliest",
                                enable_auto_commit=False, consumer_timeout_ms=10000)
        try:
            got = []
            deadline = time.time() + 20
            while time.time() < deadline:
                polled = c.poll(timeout_ms=500)
                if got and not polled:
                    break
                for recs in polled.values():
                    got += [r.value for r in recs]
            c.commit()
            return got
        finally:
            c.close()

    with pytest.raises(kafka.errors.GroupAuthorizationFailedError):
        consume("g-acl")
    grant(b, binding(ResourceType.GROUP, "g-", AclOperation.READ, pattern=ResourcePatternType.PREFIXED))
    consumed = len(consume("g-acl"))
    assert consumed >= 2
    a = admin(b)
    # DescribeGroups needs DESCRIBE, implied by READ; authorized operations as asked.
    d = a.describe_consumer_groups(["g-acl"], include_authorized_operations=True, request_timeout=10)["g-acl"].result(10)
    assert {o.name for o in d.authorized_operations} == {"READ", "DESCRIBE"}
    # Committed offsets (OffsetFetch: DESCRIBE on the group and the topic).
    offsets = a.list_consumer_group_offsets([ck.ConsumerGroupTopicPartitions("g-acl")])["g-acl"].result(10)
    assert [p.offset for p in offsets.topic_partitions if p.topic == "t"] == [consumed]
    # DeleteGroups needs DELETE.
    with pytest.raises(ck.KafkaException) as e:
        a.delete_consumer_groups(["g-acl"], request_timeout=10)["g-acl"].result(10)
    assert error_code(e.value) == GROUP_AUTH
    grant(b, binding(ResourceType.GROUP, "g-acl", AclOperation.DELETE))
    a.delete_consumer_groups(["g-acl"], request_timeout=10)["g-acl"].result(10)


def test_admin_apis_need_their_operations(clean):
    b = clean
    a = admin(b)

    def create(name):
        return a.create_topics([ck_admin.NewTopic(name, 1, 1)], request_timeout=10)[name]

    with pytest.raises(ck.KafkaException) as e:
        create("new-topic").result(10)
    assert error_code(e.value) == TOPIC_AUTH
    grant(b, binding(ResourceType.TOPIC, "new-", AclOperation.CREATE, pattern=ResourcePatternType.PREFIXED))
    create("new-topic").result(10)
    # CreatePartitions: ALTER on the topic.
    with pytest.raises(ck.KafkaException) as e:
        a.create_partitions([ck_admin.NewPartitions("new-topic", 2)], request_timeout=10)["new-topic"].result(10)
    assert error_code(e.value) == TOPIC_AUTH
    grant(b, binding(ResourceType.TOPIC, "new-topic", AclOperation.ALTER))
    a.create_partitions([ck_admin.NewPartitions("new-topic", 2)], request_timeout=10)["new-topic"].result(10)
    # DescribeConfigs: DESCRIBE_CONFIGS, implied by ALTER_CONFIGS.
    res = ck_admin.ConfigResource(ck_admin.ResourceType.TOPIC, "new-topic")
    with pytest.raises(ck.KafkaException) as e:
        a.describe_configs([res], request_timeout=10)[res].result(10)
    assert error_code(e.value) == TOPIC_AUTH
    grant(b, binding(ResourceType.TOPIC, "new-topic", AclOperation.ALTER_CONFIGS))
    assert "retention.ms" in a.describe_configs([res], request_timeout=10)[res].result(10)
    alter = ck_admin.ConfigResource(ck_admin.ResourceType.TOPIC, "new-topic", incremental_configs=[
        ck_admin.ConfigEntry("retention.ms", "3600000", incremental_operation=ck_admin.AlterConfigOpType.SET)])
    a.incremental_alter_configs([alter], request_timeout=10)[alter].result(10)
    # Broker configs are the cluster's.
    broker_res = ck_admin.ConfigResource(ck_admin.ResourceType.BROKER, "1")
    with pytest.raises(ck.KafkaException) as e:
        a.describe_configs([broker_res], request_timeout=10)[broker_res].result(10)
    assert error_code(e.value) == CLUSTER_AUTH
    grant(b, binding(ResourceType.BROKER, "kafka-cluster", AclOperation.DESCRIBE_CONFIGS))
    assert a.describe_configs([broker_res], request_timeout=10)[broker_res].result(10)
    # ListOffsets: DESCRIBE; DeleteRecords: DELETE.
    tp = ck.TopicPartition("spare", 0)
    with pytest.raises(ck.KafkaException) as e:
        a.list_offsets({tp: ck_admin.OffsetSpec.latest()}, request_timeout=10)[tp].result(10)
    # librdkafka stops at the Metadata answer (TOPIC_AUTHORIZATION_FAILED: no leader to ask).
    assert error_code(e.value) in (TOPIC_AUTH, ck.KafkaError._NOENT)
    grant(b, binding(ResourceType.TOPIC, "spare", AclOperation.DESCRIBE))
    # A new client: librdkafka caches the topic's earlier Metadata error.
    a = ck_admin.AdminClient({"bootstrap.servers": b.bootstrap, "broker.address.family": "v4"})
    assert a.list_offsets({tp: ck_admin.OffsetSpec.latest()}, request_timeout=10)[tp].result(10).offset >= 0
    doomed = ck.TopicPartition("spare", 0, 0)
    with pytest.raises(ck.KafkaException) as e:
        a.delete_records([doomed], request_timeout=10)[doomed].result(10)
    assert error_code(e.value) == TOPIC_AUTH
    grant(b, binding(ResourceType.TOPIC, "spare", AclOperation.DELETE))
    a.delete_records([doomed], request_timeout=10)[doomed].result(10)
    # DeleteTopics: DELETE on the topic.
    with pytest.raises(ck.KafkaException) as e:
        a.delete_topics(["new-topic"], request_timeout=10)["new-topic"].result(10)
    assert error_code(e.value) == TOPIC_AUTH
    grant(b, binding(ResourceType.TOPIC, "new-topic", AclOperation.DELETE))
    a.delete_topics(["new-topic"], request_timeout=10)["new-topic"].result(10)


def test_cluster_describe_apis_and_deny_over_the_implied_describe(clean):
    b = clean
    log_dirs_req = [("topics", ("narray", [("topic", "str"), ("partitions", ("array", "i32"))]))]
    log_dirs_resp = [("throttle_time_ms", "i32"), ("error_code", "i16"), ("results", ("array", [
        ("error_code", "i16"), ("log_dir", "str"), ("topics", ("array", [("name", "str"), ("partitions", ("array", [
            ("partition_index", "i32"), ("partition_size", "i64"), ("offset_lag", "i64"),
            ("is_future_key", "bool")]))])), ("total_bytes", "i64"), ("usable_bytes", "i64")]))]

    def log_dirs():
        return wire.call(b.bootstrap, 35, 4, log_dirs_req, {"topics": None}, log_dirs_resp, True)

    def reassignments():
        return wire.call(b.bootstrap, 46, 0, LIST_REASSIGN_REQ, {"timeout_ms": 5000, "topics": None},
                         LIST_REASSIGN_RESP, True)["error_code"]

    # The administering ALTER implies DESCRIBE on the cluster ...
    assert log_dirs()["error_code"] == 0 and log_dirs()["results"]
    assert reassignments() == 0
    # ... until a DENY on DESCRIBE, which wins; ALTER itself stays allowed.
    deny = binding(ResourceType.BROKER, "kafka-cluster", AclOperation.DESCRIBE, perm=AclPermissionType.DENY)
    grant(b, deny)
    r = log_dirs()
    assert r["error_code"] == CLUSTER_AUTH and r["results"] == []
    assert reassignments() == CLUSTER_AUTH
    assert describe_acls(b)["error_code"] == CLUSTER_AUTH
    revoke(b, deny)
    assert log_dirs()["error_code"] == 0
    # Client quotas: DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster (kafka-configs).
    quota = ("--bootstrap-server", b.bootstrap, "--entity-type", "clients", "--entity-name", "app")
    r = run_tool("kafka-configs", *quota, "--describe")
    assert r.returncode == 1 and ("31" in r.stderr or "AUTHORIZATION" in r.stderr.upper()), r.stderr
    grant(b, binding(ResourceType.BROKER, "kafka-cluster", AclOperation.ALTER_CONFIGS))
    r = run_tool("kafka-configs", *quota, "--alter", "--add-config", "producer_byte_rate=1048576")
    assert r.returncode == 0, r.stderr
    r = run_tool("kafka-configs", *quota, "--describe")
    assert r.returncode == 0 and "producer_byte_rate=1048576.0" in r.stdout, r.stdout + r.stderr


def test_idempotent_producer_needs_idempotent_write_or_write_on_a_topic(clean):
    b = clean
    # DESCRIBE lets the producer see the topic; InitProducerId then fails
    # (no IDEMPOTENT_WRITE on the cluster, no WRITE on any topic).
    grant(b, binding(ResourceType.TOPIC, "t", AclOperation.DESCRIBE))
    seen = []
    p = ck.Producer({"bootstrap.servers": b.bootstrap, "broker.address.family": "v4", "enable.idempotence": True,
                     "message.timeout.ms": 8000})
    delivered = []
    try:
        p.produce("t", b"x", on_delivery=lambda err, msg: delivered.append(err))
        for _ in range(20):
            p.poll(0.5)
    except ck.KafkaException as e:
        # librdkafka raises the fatal InitProducerId error.
        seen.append(e.args[0])
    assert CLUSTER_AUTH in {e.code() for e in seen}, [str(e) for e in seen]
    assert None not in delivered
    grant(b, binding(ResourceType.TOPIC, "t", AclOperation.WRITE))
    assert codes(produce(b, "t", 2, **{"enable.idempotence": True})) == {0}
    # Transactional ids need WRITE on the id (FindCoordinator DESCRIBE first).
    p = ck.Producer({"bootstrap.servers": b.bootstrap, "broker.address.family": "v4", "transactional.id": "tx-1"})
    with pytest.raises(ck.KafkaException) as e:
        p.init_transactions(10)
    assert error_code(e.value) == TXN_AUTH


def test_authorized_operations(clean):
    b = clean
    a = admin(b)
    grant(b, binding(ResourceType.TOPIC, "t", AclOperation.WRITE))
    d = a.describe_topics(ck.TopicCollection(["t"]), include_authorized_operations=True, request_timeout=10)["t"].result(10)
    assert {o.name for o in d.authorized_operations} == {"WRITE", "DESCRIBE"}
    c = a.describe_cluster(include_authorized_operations=True, request_timeout=10).result(10)
    assert {o.name for o in c.authorized_operations} == {"ALTER", "DESCRIBE"}


def test_kafka_acls_tool_add_list_remove(clean):
    b = clean
    base = ("--bootstrap-server", b.bootstrap)
    r = run_tool("kafka-acls", *base, "--add", "--allow-principal", "User:guardian", "--operation", "Write",
                 "--topic", "deployment-webhooks", "--resource-pattern-type", "prefixed")
    assert r.returncode == 0, r.stderr
    r = run_tool("kafka-acls", *base, "--add", "--deny-principal", "User:eve", "--deny-host", "10.0.0.9",
                 "--operation", "Read", "--group", "ops")
    assert r.returncode == 0, r.stderr
    r = run_tool("kafka-acls", *base, "--list")
    assert ("Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=deployment-webhooks, "
            "patternType=PREFIXED)`: \n \t(principal=User:guardian, host=*, operation=WRITE, permissionType=ALLOW) \n") in r.stdout
    assert "(principal=User:eve, host=10.0.0.9, operation=READ, permissionType=DENY)" in r.stdout
    r = run_tool("kafka-acls", *base, "--add", "--allow-principal", "User:x", "--operation", "Write", "--group", "g")
    assert r.returncode == 1 and "only supports operations" in r.stderr
    # --remove asks first; "n" keeps them, --force does not ask.
    r = run_tool("kafka-acls", *base, "--remove", "--group", "ops", input="n\n")
    assert r.returncode == 0 and "Are you sure you want to delete all ACLs" in r.stdout
    assert "User:eve" in run_tool("kafka-acls", *base, "--list", "--group", "ops").stdout
    r = run_tool("kafka-acls", *base, "--remove", "--force", "--group", "ops")
    assert r.returncode == 0, r.stderr
    assert "User:eve" not in run_tool("kafka-acls", *base, "--list").stdout


def test_without_an_authorizer_acl_apis_answer_security_disabled(make_broker):
    b = make_broker()
    assert describe_acls(b)["error_code"] == SECURITY_DISABLED
    with pytest.raises(ck.KafkaException) as e:
        admin(b).create_acls([binding(ResourceType.TOPIC, "free", AclOperation.READ)],
                             request_timeout=10)[binding(ResourceType.TOPIC, "free", AclOperation.READ)].result(10)
    assert error_code(e.value) == SECURITY_DISABLED
    create_topic(b.bootstrap, "free", 1)
    assert codes(produce(b, "free")) == {0}


def test_zookeeper_znodes_and_another_writers_acls(make_broker, zookeeper):
    root = zookeeper.kazoo()
    root.ensure_path("/strom-acl")
    root.stop()
    kz = zookeeper.kazoo("/strom-acl")
    b = make_broker({"zookeeper.connect": zookeeper.connect + "/strom-acl", "authorizer.class.name": AUTHORIZER,
                     "zookeeper.session.timeout.ms": "6000"})
    a = admin(b)
    everything = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                                  AclPermissionType.ANY)
    # No ACL at all: DESCRIBE on the cluster is denied.
    assert describe_acls(b)["error_code"] == CLUSTER_AUTH
    # Another writer grants ALTER on the cluster, as Kafka's AclAuthorizer writes it, and notifies.
    kz.create("/kafka-acl/Cluster/kafka-cluster", json.dumps({"version": 1, "acls": [
        {"principal": ME, "permissionType": "Allow", "operation": "Alter", "host": "*"}]}).encode(), makepath=True)
    kz.create("/kafka-acl-changes/acl_changes_", b"CLUSTER:kafka-cluster", sequence=True, makepath=True)
    wait_until(lambda: describe_acls(b)["error_code"] == 0, 15, "the ACL written to ZooKeeper to take effect")
    # ACLs created through the broker land in Kafka's znodes with their notifications.
    grant(b, binding(ResourceType.TOPIC, "zt", AclOperation.WRITE),
          binding(ResourceType.GROUP, "team-", AclOperation.READ, pattern=ResourcePatternType.PREFIXED))
    data, _ = kz.get("/kafka-acl/Topic/zt")
    assert json.loads(data) == {"version": 1, "acls": [
        {"principal": ME, "permissionType": "Allow", "operation": "Write", "host": "*"}]}
    data, _ = kz.get("/kafka-acl-extended/prefixed/Group/team-")
    assert json.loads(data)["acls"][0]["operation"] == "Read"
    literal = [kz.get("/kafka-acl-changes/" + c)[0] for c in kz.get_children("/kafka-acl-changes")]
    assert b"TOPIC:zt" in literal
    extended = [json.loads(kz.get("/kafka-acl-extended-changes/" + c)[0])
                for c in kz.get_children("/kafka-acl-extended-changes")]
    assert {"version": 1, "resourceType": "GROUP", "name": "team-", "patternType": "PREFIXED"} in extended
    # Another writer's topic ACL (kazoo) takes effect for a produce.
    kz.create("/kafka-acl/Topic/zk-topic", json.dumps({"version": 1, "acls": [
        {"principal": "User:*", "permissionType": "Allow", "operation": "All", "host": "*"}]}).encode(),
        makepath=True)
    kz.create("/kafka-acl-changes/acl_changes_", b"TOPIC:zk-topic", sequence=True)
    wait_until(lambda: any(x.name == "zk-topic" for x in a.describe_acls(everything, request_timeout=10).result(10)),
               15, "the topic ACL from ZooKeeper")
    grant(b, binding(ResourceType.BROKER, "kafka-cluster", AclOperation.CREATE))
    create_topic(b.bootstrap, "zk-topic", 1)
    assert codes(produce(b, "zk-topic")) == {0}
    # Deleting through the broker removes the znode.
    revoke(b, binding(ResourceType.TOPIC, "zt", AclOperation.WRITE))
    assert kz.exists("/kafka-acl/Topic/zt") is None
    kz.stop()


DESCRIBE_ACLS_REQ = [("resource_type", "i8"), ("name", "nstr"), ("pattern_type", "i8"), ("principal", "nstr"),
                     ("host", "nstr"), ("operation", "i8"), ("permission", "i8")]
DESCRIBE_ACLS_RESP = [("throttle_time_ms", "i32"), ("error_code", "i16"), ("error_message", "nstr"),
                      ("resources", ("array", [("resource_type", "i8"), ("name", "str"), ("pattern_type", "i8"),
                                               ("acls", ("array", [("principal", "str"), ("host", "str"),
                                                                   ("operation", "i8"), ("permission", "i8")]))]))]


def describe_acls(b) -> dict:
    """DescribeAcls v3 of everything, raw (librdkafka's result drops the top-level error)."""
    everything = {"resource_type": 1, "name": None, "pattern_type": 1, "principal": None, "host": None,
                  "operation": 1, "permission": 1}
    return wire.call(b.bootstrap, 29, 3, DESCRIBE_ACLS_REQ, everything, DESCRIBE_ACLS_RESP, True)




def test_kafka_acls_producer_and_consumer_roles_let_real_clients_in(make_broker):
    """`kafka-acls --producer` / `--consumer` (Kafka 3.5's AclCommand roles) on the
    real binary, then confluent-kafka producing and consuming as those principals
    over SASL_PLAINTEXT (PLAIN)."""
    from conftest import free_port
    jaas = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" '
            'password="admin-pw" user_guardian="guardian-pw" user_worker="worker-pw";')
    b = make_broker(start=False)
    sasl_port = free_port()
    p1, p2 = b.ports
    b.extra_overrides.update({
        "listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://127.0.0.1:{p2},LAN://127.0.0.1:{sasl_port}",
        "advertised.listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://localhost:{p2},LAN://127.0.0.1:{sasl_port}",
        "listener.security.protocol.map": "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,LAN:SASL_PLAINTEXT",
        "listener.name.lan.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.lan.plain.sasl.jaas.config": jaas,
        "authorizer.class.name": AUTHORIZER, "super.users": ME,  # the PLAINTEXT listener administers
        "group.initial.rebalance.delay.ms": "0",
    })
    b.start()
    topic, group = "deployment-webhooks", "deployment-worker"
    create_topic(b.bootstrap, topic, 1)
    base = ("--bootstrap-server", b.bootstrap)

    def as_user(user: str, **over) -> dict:
        return {"bootstrap.servers": f"127.0.0.1:{sasl_port}", "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN", "sasl.username": user, "sasl.password": f"{user}-pw",
                "broker.address.family": "v4", "socket.timeout.ms": 5000, **over}

    def produce_as(user: str, n: int, **over) -> list:
        p = ck.Producer(as_user(user, **{"message.timeout.ms": 8000, "acks": "all", **over}))
        errors = []
        for i in range(n):
            p.produce(topic, value=b"hook-%d" % i, partition=0, on_delivery=lambda err, msg: errors.append(err))
        p.flush(20)
        return errors

    def consume_as(user: str, n: int) -> tuple[list, set]:
        """Subscribes in the group; returns the values read and the error codes seen."""
        c = ck.Consumer(as_user(user, **{"group.id": group, "auto.offset.reset": "earliest",
                                         "enable.auto.commit": False}))
        c.subscribe([topic])
        got, errors = [], set()
        deadline = time.monotonic() + 20
        try:
            while len(got) < n and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    errors.add(m.error().code())
                    if m.error().code() in (TOPIC_AUTH, GROUP_AUTH):
                        break
                    continue
                got.append(m.value())
            if got:
                c.commit(asynchronous=False)
        except ck.KafkaException as e:
            errors.add(error_code(e))
        finally:
            c.close()
        return got, errors

    # Without ACLs neither principal gets anywhere.
    assert codes(produce_as("guardian", 1)) == {TOPIC_AUTH}
    assert consume_as("worker", 1)[1] & {TOPIC_AUTH, GROUP_AUTH}

    # The role options refuse what AclCommand refuses, before connecting.
    r = run_tool("kafka-acls", *base, "--add", "--allow-principal", "User:guardian", "--producer", "--topic", topic,
                 "--operation", "Read")
    assert r.returncode == 1 and 'Option "[producer]" can\'t be used with option "[operation]"' in r.stderr
    r = run_tool("kafka-acls", *base, "--add", "--allow-principal", "User:worker", "--consumer", "--topic", topic)
    assert r.returncode == 1 and "With --consumer you must specify a --topic and a --group" in r.stderr

    # --producer --idempotent --transactional-id: WRITE, DESCRIBE, CREATE on the topic,
    # IDEMPOTENT_WRITE on the cluster, WRITE and DESCRIBE on the transactional id.
    r = run_tool("kafka-acls", *base, "--add", "--allow-principal", "User:guardian", "--producer", "--topic", topic,
                 "--idempotent", "--transactional-id", "hook-tx")
    assert r.returncode == 0, r.stderr
    acls = admin(b).describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, "User:guardian",
                                                   None, AclOperation.ANY, AclPermissionType.ANY),
                                  request_timeout=10).result(10)
    assert {(x.restype.name, x.name, x.operation.name, x.permission_type.name) for x in acls} == {
        ("TOPIC", topic, "WRITE", "ALLOW"), ("TOPIC", topic, "DESCRIBE", "ALLOW"), ("TOPIC", topic, "CREATE", "ALLOW"),
        ("BROKER", "kafka-cluster", "IDEMPOTENT_WRITE", "ALLOW"),
        ("TRANSACTIONAL_ID", "hook-tx", "WRITE", "ALLOW"), ("TRANSACTIONAL_ID", "hook-tx", "DESCRIBE", "ALLOW")}
    assert "Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=deployment-webhooks, " \
           "patternType=LITERAL)`" in r.stdout
    # The idempotent producer (InitProducerId, then Produce) is let in; every record acknowledged.
    assert codes(produce_as("guardian", 5, **{"enable.idempotence": True})) == {0}
    # The transactional id passes its authorization (no TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    # another id is still refused.
    tx = ck.Producer(as_user("guardian", **{"transactional.id": "other-tx"}))
    with pytest.raises(ck.KafkaException) as e:
        tx.init_transactions(10)
    assert error_code(e.value) == TXN_AUTH
    # guardian may not read.
    assert consume_as("guardian", 1)[1] & {TOPIC_AUTH, GROUP_AUTH}

    # --consumer: READ, DESCRIBE on the topic and READ on the group.
    r = run_tool("kafka-acls", *base, "--add", "--allow-principal", "User:worker", "--consumer", "--topic", topic,
                 "--group", group)
    assert r.returncode == 0, r.stderr
    assert ("Current ACLs for resource `ResourcePattern(resourceType=GROUP, name=deployment-worker, "
            "patternType=LITERAL)`: \n \t(principal=User:worker, host=*, operation=READ, permissionType=ALLOW) \n") \
        in r.stdout
    got, errors = consume_as("worker", 5)
    assert got == [b"hook-%d" % i for i in range(5)], errors
    # The group's committed offset (OffsetCommit needs READ on group and topic).
    offsets = admin(b).list_consumer_group_offsets([ck.ConsumerGroupTopicPartitions(group)])[group].result(10)
    assert [p.offset for p in offsets.topic_partitions if p.topic == topic] == [5]
    # worker may not write.
    assert codes(produce_as("worker", 1)) == {TOPIC_AUTH}

    # --remove with the role removes exactly those entries.
    r = run_tool("kafka-acls", *base, "--remove", "--force", "--allow-principal", "User:worker", "--consumer",
                 "--topic", topic, "--group", group)
    assert r.returncode == 0, r.stderr
    left = admin(b).describe_acls(AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                                   AclOperation.ANY, AclPermissionType.ANY),
                                  request_timeout=10).result(10)
    assert {x.principal for x in left} == {"User:guardian"} and len(left) == 6
    assert consume_as("worker", 1)[1] & {TOPIC_AUTH, GROUP_AUTH}

"""Topic administration through confluent-kafka's AdminClient and kafka-python's
KafkaAdminClient, including the exact Kafka error codes for bad requests."""

import time

import pytest

from conftest import admin_client, create_topic, need_module, wait_until

ck = need_module("confluent_kafka")
ck_admin = need_module("confluent_kafka.admin")
kafka = need_module("kafka")

from confluent_kafka import KafkaError, KafkaException  # noqa: E402
from confluent_kafka.admin import (  # noqa: E402
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

# Kafka error codes (org.apache.kafka.common.protocol.Errors)
UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_ALREADY_EXISTS = 36
INVALID_PARTITIONS = 37
INVALID_REPLICATION_FACTOR = 38
INVALID_CONFIG = 40

TIMEOUT = 20


def _source(entry) -> int:
    s = entry.source
    return int(getattr(s, "value", s))


def _ck_error_code(future) -> int:
    with pytest.raises(KafkaException) as ei:
        future.result(TIMEOUT)
    return ei.value.args[0].code()


def _describe_topic_configs(admin, topic: str) -> dict:
    fs = admin.describe_configs([ConfigResource(ResourceType.TOPIC, topic)], request_timeout=TIMEOUT)
    (f,) = fs.values()
    return f.result(TIMEOUT)


def _topic_names(admin) -> set:
    return set(admin.list_topics(timeout=TIMEOUT).topics)


def _kp_admin(bootstrap):
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT * 1000, api_version_auto_timeout_ms=10000)


# ---------------------------------------------------------------------------
# confluent-kafka
# ---------------------------------------------------------------------------


def test_confluent_topic_lifecycle(broker):
    admin = admin_client(broker.bootstrap)
    topic = "admin-ck"
    fs = admin.create_topics(
        [NewTopic(topic, num_partitions=3, replication_factor=1, config={"retention.ms": "86400000", "cleanup.policy": "delete"})],
        operation_timeout=TIMEOUT,
    )
    fs[topic].result(TIMEOUT)
    assert topic in _topic_names(admin)

    # Describe: the override with its source, an unset config with its default.
    configs = _describe_topic_configs(admin, topic)
    r = configs["retention.ms"]
    assert (r.value, _source(r), r.is_default) == ("86400000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value, False), (r.value, r.source, r.is_default)
    s = configs["segment.bytes"]
    assert (s.value, _source(s), s.is_default) == ("1073741824", ConfigSource.DEFAULT_CONFIG.value, True), (s.value, s.source, s.is_default)
    assert configs["max.message.bytes"].value == "1048588"
    assert configs["cleanup.policy"].value == "delete"

    # Incremental alter: SET one, then DELETE it back to the default.
    res = ConfigResource(
        ResourceType.TOPIC, topic,
        incremental_configs=[
            ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("segment.bytes", "10485760", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    for f in admin.incremental_alter_configs([res], request_timeout=TIMEOUT).values():
        f.result(TIMEOUT)
    configs = _describe_topic_configs(admin, topic)
    assert configs["retention.ms"].value == "3600000"
    assert configs["segment.bytes"].value == "10485760"
    assert _source(configs["segment.bytes"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value

    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("segment.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
    for f in admin.incremental_alter_configs([res], request_timeout=TIMEOUT).values():
        f.result(TIMEOUT)
    configs = _describe_topic_configs(admin, topic)
    assert configs["segment.bytes"].value == "1073741824"
    assert _source(configs["segment.bytes"]) == ConfigSource.DEFAULT_CONFIG.value
    assert configs["retention.ms"].value == "3600000"

    # Create partitions 3 -> 5.
    admin.create_partitions([NewPartitions(topic, 5)], operation_timeout=TIMEOUT)[topic].result(TIMEOUT)
    wait_until(lambda: len(admin.list_topics(topic=topic, timeout=5).topics[topic].partitions) == 5, 10, "5 partitions in metadata")
    parts = admin.list_topics(topic=topic, timeout=5).topics[topic].partitions
    assert sorted(parts) == [0, 1, 2, 3, 4]
    assert all(p.leader == 1 for p in parts.values())

    # Delete.
    admin.delete_topics([topic], operation_timeout=TIMEOUT)[topic].result(TIMEOUT)
    wait_until(lambda: topic not in _topic_names(admin), 10, f"{topic} gone from the topic list")


def test_confluent_validate_only(broker):
    admin = admin_client(broker.bootstrap)
    fs = admin.create_topics([NewTopic("validate-only", num_partitions=2, replication_factor=1)], validate_only=True,
                             operation_timeout=TIMEOUT)
    fs["validate-only"].result(TIMEOUT)
    time.sleep(0.5)
    assert "validate-only" not in _topic_names(admin)
    # validate_only still reports errors.
    fs = admin.create_topics([NewTopic("validate-only", num_partitions=2, replication_factor=1,
                                       config={"no.such.config": "1"})], validate_only=True)
    assert _ck_error_code(fs["validate-only"]) == INVALID_CONFIG
    assert "validate-only" not in _topic_names(admin)


def test_confluent_error_codes(broker):
    admin = admin_client(broker.bootstrap)
    create_topic(broker.bootstrap, "exists", partitions=3)

    def create_err(name, partitions=1, rf=1, config=None):
        fs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=rf, config=config or {})],
                                 operation_timeout=TIMEOUT)
        return _ck_error_code(fs[name])

    assert create_err("exists") == TOPIC_ALREADY_EXISTS
    assert create_err("zero-partitions", partitions=0) == INVALID_PARTITIONS
    assert create_err("rf-three", rf=3) == INVALID_REPLICATION_FACTOR
    assert create_err("bad/name") == INVALID_TOPIC_EXCEPTION
    assert create_err("a" * 250) == INVALID_TOPIC_EXCEPTION
    assert create_err("..") == INVALID_TOPIC_EXCEPTION
    assert create_err("bad-config", config={"no.such.config": "1"}) == INVALID_CONFIG

    assert _ck_error_code(admin.delete_topics(["no-such-topic"], operation_timeout=TIMEOUT)["no-such-topic"]) == UNKNOWN_TOPIC_OR_PARTITION

    assert _ck_error_code(admin.create_partitions([NewPartitions("exists", 2)])["exists"]) == INVALID_PARTITIONS
    assert _ck_error_code(admin.create_partitions([NewPartitions("exists", 3)])["exists"]) == INVALID_PARTITIONS
    assert _ck_error_code(admin.create_partitions([NewPartitions("no-such-topic", 5)])["no-such-topic"]) == UNKNOWN_TOPIC_OR_PARTITION

    res = ConfigResource(ResourceType.TOPIC, "exists", incremental_configs=[
        ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)])
    (f,) = admin.incremental_alter_configs([res]).values()
    assert _ck_error_code(f) == INVALID_CONFIG

    # None of the failed creates left a topic behind.
    names = _topic_names(admin)
    for bad in ("zero-partitions", "rf-three", "bad/name", "a" * 250, "..", "bad-config"):
        assert bad not in names, bad
    assert len(admin.list_topics(topic="exists", timeout=5).topics["exists"].partitions) == 3


@pytest.mark.timeout(120)
def test_unknown_topic_metadata_and_produce(broker):
    """auto.create.topics.enable=false: metadata reports error 3 and nothing is created."""
    admin = admin_client(broker.bootstrap)
    md = admin.list_topics(topic="never-created", timeout=TIMEOUT)
    t = md.topics["never-created"]
    assert t.error is not None and t.error.code() == UNKNOWN_TOPIC_OR_PARTITION, t.error

    # A raw Produce (kafka-python's protocol classes) gets error 3 for the partition.
    from kafka.client_async import KafkaClient
    from kafka.protocol.produce import ProduceRequest
    from kafka.record.memory_records import MemoryRecordsBuilder

    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    builder.append(timestamp=int(time.time() * 1000), key=b"k", value=b"v", headers=[])
    builder.close()
    request = ProduceRequest[3](transactional_id=None, required_acks=-1, timeout=5000,
                                topics=[("never-created", [(0, builder.buffer())])])
    client = KafkaClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000, api_version_auto_timeout_ms=10000)
    try:
        node = client.least_loaded_node()
        deadline = time.monotonic() + 10
        while not client.ready(node):
            assert time.monotonic() < deadline, "kafka-python could not connect"
            client.poll(timeout_ms=100)
        fut = client.send(node, request)
        client.poll(future=fut, timeout_ms=10000)
        assert fut.succeeded(), fut.exception
        ((name, partitions),) = fut.value.topics
        (partition, error_code, *_rest) = partitions[0]
        assert (name, partition, error_code) == ("never-created", 0, UNKNOWN_TOPIC_OR_PARTITION), fut.value
    finally:
        client.close()

    # confluent-kafka's producer reports the message as undeliverable.
    errors = []
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4",
                     "topic.metadata.propagation.max.ms": 1000, "message.timeout.ms": 10000})
    p.produce("never-created", b"v", on_delivery=lambda err, msg: errors.append(err))
    p.flush(20)
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC), errors[0]

    assert "never-created" not in _topic_names(admin)


# ---------------------------------------------------------------------------
# kafka-python
# ---------------------------------------------------------------------------


@pytest.mark.timeout(120)  # kafka-python retries some failed requests forever
def test_kafka_python_admin(broker):
    from kafka.admin import ConfigResource as KpConfigResource
    from kafka.admin import ConfigResourceType
    from kafka.admin import NewPartitions as KpNewPartitions
    from kafka.admin import NewTopic as KpNewTopic

    admin = _kp_admin(broker.bootstrap)
    try:
        admin.create_topics([KpNewTopic("kp-admin", num_partitions=3, replication_factor=1,
                                        topic_configs={"retention.ms": "7200000"})], timeout_ms=TIMEOUT * 1000)
        assert "kp-admin" in admin.list_topics()

        def configs():
            (resp,) = admin.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-admin")])
            ((error_code, _msg, _rtype, name, entries),) = resp.resources
            assert (error_code, name) == (0, "kp-admin")
            return {e[0]: e[1] for e in entries}

        c = configs()
        assert c["retention.ms"] == "7200000"
        assert c["segment.bytes"] == "1073741824"

        # AlterConfigs (not incremental): the given set replaces the overrides.
        resp = admin.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-admin",
                                                     configs={"retention.ms": "1800000", "segment.bytes": "20971520"})])
        assert [r[0] for r in resp.resources] == [0], resp
        c = configs()
        assert (c["retention.ms"], c["segment.bytes"]) == ("1800000", "20971520")

        admin.create_partitions({"kp-admin": KpNewPartitions(total_count=5)}, timeout_ms=TIMEOUT * 1000)
        (desc,) = admin.describe_topics(["kp-admin"])
        assert desc["error_code"] == 0 and len(desc["partitions"]) == 5, desc

        admin.delete_topics(["kp-admin"], timeout_ms=TIMEOUT * 1000)
        wait_until(lambda: "kp-admin" not in admin.list_topics(), 10, "kp-admin deleted")
    finally:
        admin.close()


@pytest.mark.timeout(120)
def test_kafka_python_error_codes(broker):
    from kafka.admin import NewPartitions as KpNewPartitions
    from kafka.admin import NewTopic as KpNewTopic
    from kafka.errors import KafkaError as KpError

    create_topic(broker.bootstrap, "kp-exists", partitions=3)
    admin = _kp_admin(broker.bootstrap)

    def errno_of(fn, *args, **kw):
        with pytest.raises(KpError) as ei:
            fn(*args, **kw)
        return ei.value.errno

    def create(name, partitions=1, rf=1, configs=None):
        return errno_of(admin.create_topics, [KpNewTopic(name, num_partitions=partitions, replication_factor=rf,
                                                         topic_configs=configs or {})], timeout_ms=TIMEOUT * 1000)

    try:
        assert create("kp-exists") == TOPIC_ALREADY_EXISTS
        assert create("kp-zero", partitions=0) == INVALID_PARTITIONS
        assert create("kp-negative", partitions=-5) == INVALID_PARTITIONS
        assert create("kp-rf3", rf=3) == INVALID_REPLICATION_FACTOR
        assert create("bad/name") == INVALID_TOPIC_EXCEPTION
        assert create("b" * 250) == INVALID_TOPIC_EXCEPTION
        assert create("kp-bad-config", configs={"no.such.config": "x"}) == INVALID_CONFIG
        assert errno_of(admin.delete_topics, ["kp-no-such-topic"], timeout_ms=TIMEOUT * 1000) == UNKNOWN_TOPIC_OR_PARTITION
        assert errno_of(admin.create_partitions, {"kp-exists": KpNewPartitions(total_count=1)},
                        timeout_ms=TIMEOUT * 1000) == INVALID_PARTITIONS

        # validate_only creates nothing.
        admin.create_topics([KpNewTopic("kp-validate", num_partitions=1, replication_factor=1)], validate_only=True)
        time.sleep(0.5)
        names = set(admin.list_topics())
        assert "kp-validate" not in names
        for bad in ("kp-zero", "kp-negative", "kp-rf3", "bad/name", "kp-bad-config"):
            assert bad not in names, bad
    finally:
        admin.close()

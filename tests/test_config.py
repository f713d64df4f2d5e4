"""Configuration sources: --override > KAFKA_* environment > TOML file > defaults."""

from conftest import admin_client, need_module, wait_until

ck = need_module("confluent_kafka")
from confluent_kafka.admin import ConfigResource, ConfigSource, NewTopic, ResourceType  # noqa: E402


def test_precedence_override_env_file_default(make_broker, tmp_path):
    toml = tmp_path / "server.toml"
    toml.write_text(
        "# test config\n"
        '"num.partitions" = 5\n'
        '"log.segment.bytes" = 2097152\n'
        '"log.retention.bytes" = 1000000\n'
    )
    # The harness always passes --override num.partitions=3.
    broker = make_broker(env={"KAFKA_LOG_RETENTION_BYTES": "2000000", "KAFKA_NUM_PARTITIONS": "4"}, config_file=toml)

    admin = admin_client(broker.bootstrap)
    admin.create_topics([NewTopic("defaults", num_partitions=-1, replication_factor=-1)])["defaults"].result(20)
    wait_until(lambda: "defaults" in admin.list_topics(timeout=5).topics, 10, "topic created")
    parts = admin.list_topics(topic="defaults", timeout=5).topics["defaults"].partitions
    assert len(parts) == 3, f"num.partitions: --override (3) must beat env (4) and file (5), got {len(parts)}"

    (f,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, "defaults")]).values()
    configs = f.result(20)

    def show(name):
        e = configs[name]
        return e.value, int(getattr(e.source, "value", e.source))

    static = ConfigSource.STATIC_BROKER_CONFIG.value
    assert show("segment.bytes") == ("2097152", static), "file beats default"
    assert show("retention.bytes") == ("2000000", static), "KAFKA_* env beats file"
    assert show("segment.ms") == ("604800000", ConfigSource.DEFAULT_CONFIG.value), "default when nothing sets it"


def test_harness_scrubs_kafka_env(make_broker, monkeypatch):
    """A KAFKA_* variable in the test runner's environment never reaches the broker."""
    monkeypatch.setenv("KAFKA_LOG_SEGMENT_BYTES", "3145728")
    broker = make_broker()
    admin = admin_client(broker.bootstrap)
    admin.create_topics([NewTopic("scrubbed", num_partitions=1, replication_factor=1)])["scrubbed"].result(20)
    (f,) = admin.describe_configs([ConfigResource(ResourceType.TOPIC, "scrubbed")]).values()
    assert f.result(20)["segment.bytes"].value == "1073741824"


def test_mistyped_property_is_refused_at_start_naming_the_nearest(make_broker, tmp_path):
    import subprocess

    b = make_broker({"log.retention.hour": "5"}, start=False)
    proc = subprocess.run(b.command(), capture_output=True, text=True, timeout=30, env=b.process_env(), cwd=b.tmp_dir)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert '"log.retention.hour"' in out and 'did you mean "log.retention.hours"' in out, out
    assert not b.data_dir.exists(), "refused before touching the log dir"

    # In the environment the same slip (and a client's own variables) only warn.
    b = make_broker(env={"KAFKA_LOG_RETENTION_HOUR": "5", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
                         "KAFKA_CLUSTERS_0_NAME": "home"})
    assert "unknown configuration ignored" in b.log_path.read_text()
    admin_client(b.bootstrap).list_topics(timeout=10)

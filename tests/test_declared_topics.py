"""Declared topics: the shipped config/server.toml's `[[topics]]` are created
at start with their partitions and retention; a restart changes nothing; a
declaration that differs from the existing topic is reported in the log and
not applied; a bad declaration stops the broker at start with its key named."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, admin_client, need_module

SHIPPED = REPO / "config" / "server.toml"
DAY_MS = 24 * 3600 * 1000
EXPECTED = {
    "deployment-webhooks": (3, 7 * DAY_MS),
    "security-events": (3, 30 * DAY_MS),
    "trading-events": (3, 7 * DAY_MS),
    "dev-events": (3, 14 * DAY_MS),
    "deployment-results": (1, 30 * DAY_MS),
}
TIMEOUT = 20


def describe(bootstrap: str) -> dict:
    """{topic: (partitions, retention.ms, retention.ms source, topic id)} of the declared topics."""
    ck = need_module("confluent_kafka")
    admin_mod = need_module("confluent_kafka.admin")
    admin = admin_client(bootstrap)
    names = sorted(EXPECTED)
    topics = admin.describe_topics(ck.TopicCollection(names), request_timeout=TIMEOUT)
    resources = [admin_mod.ConfigResource(admin_mod.ResourceType.TOPIC, n) for n in names]
    configs = admin.describe_configs(resources, request_timeout=TIMEOUT)
    out = {}
    for res, fut in configs.items():
        entries = fut.result(TIMEOUT)
        retention = entries["retention.ms"]
        desc = topics[res.name].result(TIMEOUT)
        source = int(getattr(retention.source, "value", retention.source))
        out[res.name] = (len(desc.partitions), int(retention.value), source, str(desc.topic_id))
    return out


def differing_config(tmp_path, text_edit) -> str:
    path = tmp_path / "server.toml"
    path.write_text(text_edit(SHIPPED.read_text()))
    return str(path)


def test_shipped_config_creates_declared_topics_once(make_broker, tmp_path):
    admin_mod = need_module("confluent_kafka.admin")
    b = make_broker(config_file=SHIPPED)
    first = describe(b.bootstrap)
    for name, (partitions, retention) in EXPECTED.items():
        got = first[name]
        assert got[0] == partitions, f"{name}: {got}"
        assert got[1] == retention, f"{name}: {got}"
        assert got[2] == admin_mod.ConfigSource.DYNAMIC_TOPIC_CONFIG.value, f"{name}: {got}"
    assert "created declared topic" in b.log_path.read_text()

    # A restart with the same declarations changes nothing: same topic ids.
    b.stop()
    b.start()
    assert describe(b.bootstrap) == first
    log = b.log_path.read_text().split("harness: start #2")[-1]
    assert "created declared topic" not in log
    assert re.search(r"created=0 unchanged=5 differing=0", log), log[-3000:]

    # A declaration that differs is reported, never applied.
    def change(text: str) -> str:
        text = text.replace('name = "deployment-webhooks"\npartitions = 3', 'name = "deployment-webhooks"\npartitions = 6', 1)
        return text.replace('"retention.ms" = "2592000000"    # 30 days', '"retention.ms" = "86400000"', 1)

    b.stop()
    b.config_file = differing_config(tmp_path, change)
    b.start()
    assert describe(b.bootstrap) == first
    log = b.log_path.read_text().split("harness: start #3")[-1]
    warnings = [line for line in log.splitlines() if "declared topic differs" in line]
    assert any("deployment-webhooks" in w and "partitions: declared 6, existing 3" in w for w in warnings), warnings
    assert any(
        "security-events" in w and "retention.ms: declared 86400000, existing 2592000000" in w for w in warnings
    ), warnings
    assert re.search(r"created=0 unchanged=3 differing=2", log), log[-3000:]


def test_bad_declaration_stops_the_broker_naming_it(make_broker, tmp_path):
    def bad(text: str) -> str:
        return text.replace('"retention.ms" = "1209600000"    # 14 days', '"retention.ms" = "two weeks"', 1)

    b = make_broker(config_file=differing_config(tmp_path, bad), start=False)
    with pytest.raises(AssertionError, match="exited with code"):
        b.start(timeout=10)
    assert "topics.dev-events.config.retention.ms" in b.log_path.read_text()

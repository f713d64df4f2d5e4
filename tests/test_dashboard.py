"""docker/grafana/strom.json, the Grafana dashboard: a well-formed dashboard whose every
query promtool parses, and which reads only metrics the broker exports.

The broker runs with ZooKeeper (so `strom_zookeeper_session_state` is served) after a
produce, a fetch and a group commit (so the kafka_exporter consumer-group series are
there), and its /metrics is scraped; every metric name in a panel or template query must
be one of its series (Prometheus' own `up` aside).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from conftest import REPO, create_topic, need_module
from test_metrics import get, promtool

DASHBOARD = REPO / "docker" / "grafana" / "strom.json"
# Series Prometheus makes itself, not the broker.
PROMETHEUS_SERIES = {"up"}
# Grafana's template variables, as Prometheus would see them once Grafana filled them in.
VARIABLES = {"$__rate_interval": "1m", "$instance": ".*", "$topic": ".*", "$consumergroup": ".*"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan"}


def panels(dashboard: dict):
    for p in dashboard["panels"]:
        yield p
        yield from p.get("panels", [])


def queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and template variable."""
    out = []
    for p in panels(dashboard):
        for t in p.get("targets", []):
            out.append((f"panel {p['title']!r} {t['refId']}", t["expr"]))
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", v["query"]["query"])
            assert m, f"variable {v['name']}: {v['query']['query']}"
            out.append((f"variable {v['name']}", m.group(1)))
    return out


def fill(expr: str) -> str:
    for k, v in VARIABLES.items():
        expr = expr.replace(k, v)
    return expr


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions,
    aggregations, keywords, label names or inside strings, label matchers or ranges."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        if e[m.end():].lstrip().startswith("(") or m.group().lower() in KEYWORDS:
            continue
        names.add(m.group())
    return names


def test_metric_names_parser():
    assert metric_names('histogram_quantile(0.99, sum by (le, api) (rate(x_bucket{a=~"$b"}[1m])))') == {"x_bucket"}
    assert metric_names('a / (b{l="x"} + c) == 1') == {"a", "b", "c"}
    assert metric_names('count by (topic) (k{t=~".*"} >= 0)') == {"k"}


def test_dashboard_is_well_formed_and_promtool_parses_every_query(tmp_path):
    d = json.loads(DASHBOARD.read_text())
    assert d["uid"] == "strom-broker" and d["title"] == "strom"
    ids = [p["id"] for p in panels(d)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {sorted(ids)}"
    names = [v["name"] for v in d["templating"]["list"]]
    assert names == ["datasource", "instance", "topic", "consumergroup"], names
    for p in panels(d):
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, (p["title"], g)
        if p["type"] != "row":
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            assert p["targets"], f"panel {p['title']!r} has no query"
            for t in p["targets"]:
                # Every selector is scoped to the chosen brokers.
                for sel in re.findall(r"\b[a-z_]+\{[^}]*\}", t["expr"]):
                    assert 'instance=~"$instance"' in sel, (p["title"], sel)
    # promtool parses each query (as a recording rule) with the variables filled in.
    qs = queries(d)
    assert len(qs) >= 40, len(qs)
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": fill(expr)} for i, (_, expr) in enumerate(qs)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    r = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and f"SUCCESS: {len(qs)} rules found" in r.stdout, r.stdout + r.stderr


def test_dashboard_reads_only_metrics_the_broker_exports(make_broker, zookeeper):
    broker = make_broker({"zookeeper.connect": zookeeper.connect})
    ck = need_module("confluent_kafka")
    create_topic(broker.bootstrap, "dashboard", partitions=2)
    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4"})
    for i in range(10):
        p.produce("dashboard", key=str(i).encode(), value=b"v")
    assert p.flush(30) == 0
    c = ck.Consumer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "group.id": "dash",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.assign([ck.TopicPartition("dashboard", 0, 0), ck.TopicPartition("dashboard", 1, 0)])
        got = c.consume(num_messages=10, timeout=20)
        assert len(got) == 10 and not any(m.error() for m in got)
        c.commit(asynchronous=False)
    finally:
        c.close()

    status, text, _ = get(broker.metrics_url + "/metrics")
    assert status == 200
    exported = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", l).group() for l in text.splitlines()
                if l and not l.startswith("#")}
    assert "strom_zookeeper_session_state" in exported and "kafka_consumergroup_lag" in exported
    used: dict[str, list[str]] = {}
    for where, expr in queries(json.loads(DASHBOARD.read_text())):
        for name in metric_names(fill(expr)):
            used.setdefault(name, []).append(where)
    unknown = {n: w for n, w in used.items() if n not in exported | PROMETHEUS_SERIES}
    assert not unknown, f"the dashboard reads metrics the broker does not export: {unknown}"
    # Each of strom's own families and kafka_exporter's has a panel.
    assert {"strom_requests_total", "process_resident_memory_bytes", "strom_log_dir_bytes_used",
            "kafka_consumergroup_lag", "kafka_topic_partition_current_offset", "kafka_brokers"} <= set(used)

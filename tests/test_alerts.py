"""docker/prometheus/alerts.yml: `promtool check rules` accepts it and
`promtool test rules` proves each alert fires on the series that should fire
it (and the healthy ones do not); every metric an alert reads is one the
broker exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from conftest import create_topic
from test_metrics import get, promtool

DIR = Path(__file__).resolve().parent.parent / "docker" / "prometheus"


def test_promtool_checks_and_tests_the_rules():
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", "alerts.yml"], cwd=DIR, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 9 rules found" in check.stdout
    test = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=DIR, capture_output=True, text=True, timeout=60)
    assert test.returncode == 0, test.stdout + test.stderr


def test_alerts_read_metrics_the_broker_exports(broker):
    create_topic(broker.bootstrap, "alerted", partitions=1)
    status, text, _ = get(broker.metrics_url + "/metrics")
    assert status == 200
    exported = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE ")}
    assert "strom_ready 1" in text
    rules = (DIR / "alerts.yml").read_text()
    used = set(re.findall(r"\b((?:strom|kafka|process)_[a-z_]+)", "\n".join(
        l for l in rules.splitlines() if l.strip().startswith("expr:"))))
    # Group lag once a group commits, the ZooKeeper state with zookeeper.connect.
    always = used - {"kafka_consumergroup_lag_sum", "strom_zookeeper_session_state"}
    assert always <= exported, always - exported

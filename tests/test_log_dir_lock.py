"""Kafka's `.lock`: a second broker on a log dir in use exits at start with one
line naming the dir and the holder, and leaves the first broker's dir alone."""

import subprocess

from conftest import Broker, consume_all, create_topic, kcat


def test_second_broker_on_a_locked_log_dir_is_refused(broker):
    create_topic(broker.bootstrap, "locked", partitions=1)
    kcat("-P", "-b", broker.bootstrap, "-t", "locked", "-p", "0", input="one\ntwo\n")

    second = Broker()
    second.data_dir = broker.data_dir  # same log.dirs, other ports
    proc = subprocess.run(second.command(), capture_output=True, text=True, timeout=30,
                          env=second.process_env(), cwd=second.tmp_dir)
    second.cleanup()
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert str(broker.data_dir) in out, out
    assert f"pid {broker.proc.pid}" in out, out
    # Refused before touching the dir: no clean-shutdown marker written into
    # the live dir, the lock file still names the first broker.
    assert not (broker.data_dir / ".kafka_cleanshutdown").exists()
    assert (broker.data_dir / ".lock").read_text().strip() == str(broker.proc.pid)

    # The first broker serves on, and after a kill -9 it recovers (no marker).
    assert [m.value() for m in consume_all(broker.bootstrap, "locked", [0])[0]] == [b"one", b"two"]
    broker.kill9()
    broker.start()
    assert [m.value() for m in consume_all(broker.bootstrap, "locked", [0])[0]] == [b"one", b"two"]

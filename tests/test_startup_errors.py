"""Start-up errors: one line naming the property or path and the fix.

Every case runs the real binary with RUST_BACKTRACE=1 in its environment and asserts
the exit status and the error line whole: it is the last line on stderr, its cause is
said once, nothing else on stderr is anything but the broker's own log lines (no cause
chain, no backtrace, no panic). The tools' bootstrap mistakes (no port, the HTTP port)
say so in one line too, and a first start on an empty log dir says it is initialising
it instead of announcing a recovery.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import STROM, Broker

# The broker's log lines on stderr (tracing's format, no colour): timestamp, level, target.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(TRACE|DEBUG|INFO|WARN) ")
NOBODY = 65534


def run(cmd: list[str], env: dict, cwd: Path, timeout: float = 30.0) -> subprocess.CompletedProcess:
    env = dict(env, RUST_BACKTRACE="1", NO_COLOR="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def assert_one_line_error(r: subprocess.CompletedProcess, expected: str, cause: str | None = None) -> None:
    """Exit 1; `Error: <expected>` is the last stderr line; the cause appears once;
    every other stderr line is a log line."""
    lines = r.stderr.splitlines()
    assert r.returncode == 1, f"exit {r.returncode}\n{r.stderr}"
    assert lines and lines[-1] == f"Error: {expected}", r.stderr
    others = [l for l in lines[:-1] if not LOG_LINE.match(l)]
    assert not others, f"stderr lines that are neither the error nor log lines: {others}\n{r.stderr}"
    for word in ("panicked", "backtrace", "Caused by", "stack backtrace", "ERROR"):
        assert word not in r.stderr, f"{word!r} on stderr:\n{r.stderr}"
    if cause is not None:
        assert r.stderr.count(cause) == 1, f"{cause!r} said {r.stderr.count(cause)} times:\n{r.stderr}"
    assert r.stdout == "", r.stdout


def broker_command(b: Broker, log_dirs: str) -> list[str]:
    cmd = b.command()
    i = cmd.index(f"log.dirs={b.data_dir}")
    cmd[i] = f"log.dirs={log_dirs}"
    return cmd


@pytest.fixture
def unstarted(make_broker):
    return make_broker(start=False)


@pytest.fixture
def scratch():
    d = Path(tempfile.mkdtemp(prefix="strom-startup-"))
    os.chmod(d, 0o755)
    yield d
    for p in d.rglob("*"):
        if p.is_dir():
            os.chmod(p, 0o755)
    shutil.rmtree(d, ignore_errors=True)


def as_unprivileged(cmd: list[str]) -> tuple[list[str], int]:
    """The command as a user that file permissions apply to: nobody when the tests run
    as root (root writes anywhere), else the test's own user."""
    if os.geteuid() != 0:
        return cmd, os.geteuid()
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to run the broker as nobody"
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd], NOBODY


def test_log_dir_that_cannot_be_created(unstarted, scratch):
    """log.dirs under a directory the broker may not write: Permission denied, once."""
    parent = scratch / "readonly"
    parent.mkdir(mode=0o555)
    os.chmod(parent, 0o555)
    target = parent / "kafka-logs"
    cmd, uid = as_unprivileged(broker_command(unstarted, str(target)))
    r = run(cmd, unstarted.process_env(), scratch)
    assert_one_line_error(
        r,
        f"log.dirs {target}: cannot create it: Permission denied (os error 13); create it writable by "
        f"the broker's user (uid {uid}), or set log.dirs to a writable directory",
        cause="Permission denied",
    )
    assert not target.exists()


def test_log_dir_that_is_not_writable(unstarted, scratch):
    """An existing log dir the broker may not write: Permission denied, once."""
    target = scratch / "kafka-logs"
    target.mkdir()
    os.chmod(target, 0o555)
    cmd, uid = as_unprivileged(broker_command(unstarted, str(target)))
    r = run(cmd, unstarted.process_env(), scratch)
    assert_one_line_error(
        r,
        f"log.dirs {target}: not writable: Permission denied (os error 13); give write access to it to "
        f"the broker's user (uid {uid}), or set log.dirs to a writable directory",
        cause="Permission denied",
    )
    assert list(target.iterdir()) == []


def test_log_dir_that_is_a_file(unstarted, scratch):
    """A file given as log.dirs (or as one of its parents) is "not a directory"."""
    f = scratch / "kafka-logs"
    f.write_text("not a dir\n")
    r = run(broker_command(unstarted, str(f)), unstarted.process_env(), scratch)
    assert_one_line_error(r, f"log.dirs {f}: not a directory; set log.dirs to a directory (a missing one is created)",
                          cause="not a directory")
    r = run(broker_command(unstarted, str(f / "sub")), unstarted.process_env(), scratch)
    assert_one_line_error(
        r, f"log.dirs {f / 'sub'}: {f} is not a directory; set log.dirs to a directory (a missing one is created)",
        cause="not a directory")
    assert f.read_text() == "not a dir\n"


def test_listener_port_in_use(unstarted, scratch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", unstarted.external_port))
        s.listen()
        r = run(unstarted.command(), unstarted.process_env(), scratch)
    p = unstarted.external_port
    assert_one_line_error(
        r, f"listeners EXTERNAL://127.0.0.1:{p}: cannot bind: Address already in use (os error 98); stop what "
           f"holds the port, or give the listener another port in listeners", cause="Address already in use")


def test_mistyped_property(unstarted, scratch):
    cmd = unstarted.command() + ["--override", "log.retention.hour=5"]
    r = run(cmd, unstarted.process_env(), scratch)
    assert_one_line_error(
        r, 'invalid configuration: unknown broker property "log.retention.hour" in the override; '
           'did you mean "log.retention.hours"?')


def tool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """strom's kafka-topics, run under that name (a link, as the image and
    install-tool-links make it)."""
    link = cwd / "kafka-topics"
    if not link.exists():
        link.symlink_to(STROM)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    return run([str(link), *args], env, cwd)


def test_bootstrap_server_without_port(scratch):
    r = tool("--bootstrap-server", "localhost", "--list", cwd=scratch)
    assert_one_line_error(r, "--bootstrap-server localhost: missing port in localhost; give host:port, "
                             "e.g. localhost:9092", cause="missing port")
    assert r.stderr.count("\n") == 1, r.stderr
    r = tool("--bootstrap-server", "127.0.0.1:9092,kafka", "--list", cwd=scratch)
    assert_one_line_error(r, "--bootstrap-server 127.0.0.1:9092,kafka: missing port in kafka; give host:port, "
                             "e.g. localhost:9092")


def test_tool_pointed_at_the_http_port(broker, scratch):
    """The metrics and console listeners answer HTTP: the tool says so (the bytes `HTTP`
    it read as a size prefix are 1213486160)."""
    for port in (broker.metrics_port, broker.console_port):
        r = tool("--bootstrap-server", f"127.0.0.1:{port}", "--list", cwd=scratch)
        assert_one_line_error(
            r, f"127.0.0.1:{port} answers HTTP, not Kafka: --bootstrap-server takes a Kafka listener (the "
               f"broker's listeners, e.g. port 9092), not metrics.listener or console.listener")
        assert "1213486160" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = tool("--bootstrap-server", broker.bootstrap, "--list", cwd=scratch)
    assert r.returncode == 0, r.stderr


def test_first_start_initialises_new_log_dirs(make_broker):
    """A first start on an empty dir says it is initialising it; only a start after a
    crash announces a recovery, and a start after a clean stop says neither."""
    b = make_broker()
    log = b.log_path.read_text()
    assert re.search(rf"initialising new log dir dir={re.escape(str(b.data_dir))}$", log, re.M), log
    assert "logs will be recovered" not in log, log
    b.kill9()
    mark = len(b.log_path.read_text())
    b.start()
    after_crash = b.log_path.read_text()[mark:]
    assert "no clean shutdown marker: logs will be recovered" in after_crash, after_crash
    assert "initialising new log dir" not in after_crash, after_crash
    b.stop()
    mark = len(b.log_path.read_text())
    b.start()
    after_clean = b.log_path.read_text()[mark:]
    assert "logs will be recovered" not in after_clean and "initialising" not in after_clean, after_clean

"""Harness for strom's integration tests.

Every test drives the real `target/release/strom` binary (built by tests/run.sh)
on free 127.0.0.1 ports with a fresh data directory, through real clients:
Debian's kcat (librdkafka 2.0.x), confluent-kafka (a current librdkafka) and
kafka-python.

With CI=true a missing tool or client fails the test instead of skipping it.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STROM = REPO / "target" / "release" / "strom"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 80


# ---------------------------------------------------------------------------
# Tools and clients: fail under CI, skip elsewhere.
# ---------------------------------------------------------------------------


def missing(what: str) -> None:
    msg = f"{what} is missing (bash tests/run.sh installs it)"
    if IN_CI:
        pytest.fail(msg + "; CI=true so this is a failure", pytrace=False)
    pytest.skip(msg, allow_module_level=True)


def need_module(name: str):
    """Import a client library; a missing one fails under CI, skips elsewhere."""
    try:
        return importlib.import_module(name)
    except ImportError as e:  # pragma: no cover - depends on the machine
        missing(f"python module {name} ({e})")


def kcat_path() -> str:
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if not path:
        missing("kcat")
    return path


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


# Ports handed out in this test run. Each is handed out once, so two listeners of one broker never
# get the same port, and a port is never one the kernel gives an outgoing connection as its local
# port (those come from ip_local_port_range, 32768-60999 on Linux), so a broker restarted on its
# old ports finds them free.
_HANDED_OUT: set[int] = set()
_PORT_RANGE = (20000, 32767)


def free_port() -> int:
    for _ in range(1000):
        port = random.randint(*_PORT_RANGE)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise AssertionError(f"no free port in {_PORT_RANGE} after 1000 tries")


def wait_until(pred, timeout: float, what: str, interval: float = 0.1):
    """Poll `pred` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = pred()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last_exc!r})" if last_exc else ""))


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def read_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    assert 0 <= size < 64 * 1024 * 1024, f"implausible response size {size}"
    return recv_exact(sock, size)


def encode_api_versions_request(version: int, correlation_id: int, client_id: str = "strom-tests") -> bytes:
    """An ApiVersions request frame (size prefix included).

    v0-v2 use request header v1; v3+ use header v2 (tagged fields) and a
    flexible body carrying client_software_name/version, as librdkafka sends.
    """
    cid = client_id.encode()
    header = struct.pack(">hhi", 18, version, correlation_id) + struct.pack(">h", len(cid)) + cid
    if version >= 3:
        header += b"\x00"  # header tagged fields
        name, ver = b"strom-tests", b"0.1"
        body = bytes([len(name) + 1]) + name + bytes([len(ver) + 1]) + ver + b"\x00"
    else:
        body = b""
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def parse_api_versions_response(frame: bytes, version: int) -> dict:
    """Parse an ApiVersions response body (response header is always v0).

    Returns {"correlation_id", "error_code", "api_versions": {key: (min, max)}}.
    Raises AssertionError if the frame does not parse exactly to its end.
    """
    (correlation_id,) = struct.unpack_from(">i", frame, 0)
    pos = 4
    (error_code,) = struct.unpack_from(">h", frame, pos)
    pos += 2
    apis = {}
    if version >= 3:
        n, pos = read_uvarint(frame, pos)
        n -= 1
        for _ in range(max(n, 0)):
            key, lo, hi = struct.unpack_from(">hhh", frame, pos)
            pos += 6
            tags, pos = read_uvarint(frame, pos)
            for _ in range(tags):
                _tag, pos = read_uvarint(frame, pos)
                size, pos = read_uvarint(frame, pos)
                pos += size
            apis[key] = (lo, hi)
        pos += 4  # throttle_time_ms
        tags, pos = read_uvarint(frame, pos)
        for _ in range(tags):
            _tag, pos = read_uvarint(frame, pos)
            size, pos = read_uvarint(frame, pos)
            pos += size
    else:
        (n,) = struct.unpack_from(">i", frame, pos)
        pos += 4
        for _ in range(max(n, 0)):
            key, lo, hi = struct.unpack_from(">hhh", frame, pos)
            pos += 6
            apis[key] = (lo, hi)
        if version >= 1:
            pos += 4  # throttle_time_ms
    assert pos == len(frame), f"ApiVersions v{version} response: parsed {pos} of {len(frame)} bytes: {frame.hex()}"
    return {"correlation_id": correlation_id, "error_code": error_code, "api_versions": apis}


def api_versions(host: str, port: int, version: int = 0, timeout: float = 5.0) -> dict:
    """One ApiVersions round trip on a fresh raw connection."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(encode_api_versions_request(version, 4242))
        frame = read_frame(s)
    resp = parse_api_versions_response(frame, 0 if version > 3 else version)
    assert resp["correlation_id"] == 4242, resp
    return resp


# ---------------------------------------------------------------------------
# The broker under test
# ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL the broker if the test process dies (Linux), so a
    killed or crashed pytest run never leaves brokers behind."""
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - best effort; not Linux or no libc.so.6
        pass


class Broker:
    """The real strom binary on two free 127.0.0.1 ports with its own data dir.

    EXTERNAL advertises 127.0.0.1:P1, INTERNAL advertises localhost:P2, so a
    test can tell which listener answered.
    """

    def __init__(self, extra_overrides: dict | None = None, env: dict | None = None, broker_id: int = 1,
                 config_file: str | Path | None = None):
        if not STROM.exists():
            pytest.fail(f"{STROM} does not exist: build it with `cargo build --release` (bash tests/run.sh does)", pytrace=False)
        self.broker_id = broker_id
        self.ports = (free_port(), free_port())
        self.external_port, self.internal_port = self.ports
        self.bootstrap = f"127.0.0.1:{self.external_port}"
        self.internal_bootstrap = f"localhost:{self.internal_port}"
        # The Prometheus endpoint (metrics.listener), on its own free port.
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}"
        # The web console (console.listener), on its own free port.
        self.console_port = free_port()
        self.console_url = f"http://127.0.0.1:{self.console_port}"
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="strom-test-"))
        self.data_dir = self.tmp_dir / "logs"
        self.log_path = self.tmp_dir / "broker.log"
        self.extra_overrides = dict(extra_overrides or {})
        self.env = dict(env or {})
        self.config_file = config_file
        self.proc: subprocess.Popen | None = None
        # RLIMIT_NOFILE (soft and hard) of the broker process; None keeps the harness's.
        self.nofile: int | None = None
        self.starts = 0
        self.expected_exit = True  # False while running: an exit then is a crash

    # -- command line ------------------------------------------------------
    def overrides(self) -> dict:
        p1, p2 = self.ports
        o = {
            "broker.id": str(self.broker_id),
            "listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://127.0.0.1:{p2}",
            "advertised.listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://localhost:{p2}",
            "listener.security.protocol.map": "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT",
            "inter.broker.listener.name": "INTERNAL",
            "log.dirs": str(self.data_dir),
            "auto.create.topics.enable": "false",
            "num.partitions": "3",
            "metrics.listener": f"127.0.0.1:{self.metrics_port}",
            "console.listener": f"127.0.0.1:{self.console_port}",
        }
        o.update({k: str(v) for k, v in self.extra_overrides.items()})
        return o

    def command(self) -> list[str]:
        cmd = [str(STROM), "server"]
        if self.config_file is not None:
            cmd += ["--config", str(self.config_file)]
        for k, v in self.overrides().items():
            cmd += ["--override", f"{k}={v}"]
        return cmd

    def process_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")  # plain log lines in the report
        env.update(self.env)
        return env

    # -- lifecycle ---------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> "Broker":
        """Start (or restart) on the same ports and data dir; wait until ready."""
        assert not self.running, "broker already running"
        self.starts += 1
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== harness: start #{self.starts}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.process_env(),
                cwd=self.tmp_dir,
                start_new_session=True,
                preexec_fn=self._preexec,
            )
        self.expected_exit = False
        try:
            self.wait_ready(timeout)
        except BaseException:
            self._kill_quietly()
            raise
        return self

    def _preexec(self) -> None:
        _die_with_parent()
        if self.nofile is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Both listeners accept TCP and answer an ApiVersions round trip."""
        deadline = time.monotonic() + timeout
        pending = {"EXTERNAL": self.external_port, "INTERNAL": self.internal_port}
        last_err = None
        while pending:
            if self.proc.poll() is not None:
                raise AssertionError(f"strom exited with code {self.proc.returncode} during start-up\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"strom not ready on {pending} within {timeout}s (last error: {last_err!r})\n{self.log_tail()}"
                )
            for key, port in list(pending.items()):
                try:
                    resp = api_versions("127.0.0.1", port, version=0, timeout=2.0)
                    if resp["error_code"] == 0 and resp["api_versions"]:
                        del pending[key]
                    else:
                        last_err = f"ApiVersions on {port}: {resp}"
                except (OSError, ConnectionError, AssertionError, struct.error) as e:
                    last_err = e
            if pending:
                time.sleep(0.1)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; fails if the broker takes longer than `timeout`."""
        assert self.proc is not None, "broker never started"
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill_quietly()
                raise AssertionError(f"strom did not exit within {timeout}s of SIGTERM\n{self.log_tail()}")
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None, "broker never started"
        self.expected_exit = True
        self._kill_quietly()

    def _kill_quietly(self) -> None:
        self.expected_exit = True
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise AssertionError(f"strom is not running (exit code {code})\n{self.log_tail()}")

    # -- diagnostics -------------------------------------------------------
    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no broker log)"
        tail = text.splitlines()[-lines:]
        return f"--- last {len(tail)} lines of {self.log_path} ---\n" + "\n".join(tail)

    def cleanup(self, keep: bool = False) -> None:
        self._kill_quietly()
        if not keep:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"Broker(bootstrap={self.bootstrap}, internal={self.internal_bootstrap}, dir={self.tmp_dir})"


# ---------------------------------------------------------------------------
# Fixtures and reporting
# ---------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"_strom_rep_{rep.when}", rep)
    if rep.failed:
        for b in getattr(item, "_strom_brokers", []):
            rep.sections.append((f"strom log ({b.bootstrap}, {b.tmp_dir})", b.log_tail()))


@pytest.fixture
def make_broker(request):
    """Factory: make_broker(extra_overrides=None, env=None, config_file=None, start=True) -> Broker.

    Every broker made is stopped after the test; its data dir is kept (and
    named in the report) when the test failed. A broker that died while the
    test believed it was running fails the test at teardown.
    """
    brokers: list[Broker] = []
    request.node._strom_brokers = brokers

    def factory(extra_overrides=None, env=None, config_file=None, start=True) -> Broker:
        b = Broker(extra_overrides=extra_overrides, env=env, config_file=config_file)
        brokers.append(b)
        if start:
            b.start()
        return b

    yield factory

    failed = any(getattr(getattr(request.node, f"_strom_rep_{w}", None), "failed", False) for w in ("setup", "call"))
    crashed = []
    for b in brokers:
        if b.proc is not None and not b.expected_exit and b.proc.poll() is not None:
            crashed.append(f"{b}: exited unexpectedly with code {b.proc.returncode}\n{b.log_tail()}")
        try:
            if b.running:
                b.stop()
        except AssertionError as e:
            crashed.append(str(e))
        finally:
            b.cleanup(keep=failed or bool(crashed))
    if crashed and not failed:
        pytest.fail("\n".join(crashed), pytrace=False)


@pytest.fixture
def broker(make_broker) -> Broker:
    """A started strom broker with the default test overrides."""
    return make_broker()


# ---------------------------------------------------------------------------
# ZooKeeper: Debian's `zookeeper` package server, run directly
# ---------------------------------------------------------------------------

ZK_JARS = ("zookeeper", "zookeeper-jute", "netty-handler", "netty-common", "netty-buffer", "netty-transport",
           "netty-transport-native-epoll", "netty-transport-native-unix-common", "netty-codec", "netty-resolver",
           "slf4j-api", "slf4j-simple", "metrics-core", "snappy-java", "commons-cli")


class ZooKeeper:
    """A standalone ZooKeeper server (ZooKeeperServerMain) on a free loopback
    port with a temporary data dir; stopped by PID. `restart(fresh=True)`
    wipes the data dir: every session and znode is lost."""

    def __init__(self):
        java = shutil.which("java")
        jars = [Path("/usr/share/java") / f"{j}.jar" for j in ZK_JARS]
        if not java or not jars[0].exists():
            missing("Debian's zookeeper package (java and /usr/share/java/zookeeper.jar)")
        self.classpath = ":".join(str(j) for j in jars if j.exists())
        self.java = java
        self.port = free_port()
        self.connect = f"127.0.0.1:{self.port}"
        self.tmp_dir = Path(tempfile.mkdtemp(prefix="strom-zk-"))
        self.data_dir = self.tmp_dir / "data"
        self.log_path = self.tmp_dir / "zookeeper.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "ZooKeeper":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.tmp_dir / "zoo.cfg"
        cfg.write_text(
            f"tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={self.data_dir}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\nminSessionTimeout=1000\nmaxSessionTimeout=60000\n"
            "4lw.commands.whitelist=ruok,srvr\n"
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.java, "-Xmx256m", "-cp", self.classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_die_with_parent,
            )

        def serving():
            if self.proc.poll() is not None:
                raise AssertionError(f"zookeeper exited with {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"ruok")
                return s.recv(16) == b"imok"

        wait_until(serving, timeout, f"ZooKeeper on {self.connect}", interval=0.2)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, fresh: bool = False) -> None:
        self.stop()
        if fresh:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.start()

    def kazoo(self, chroot: str = ""):
        kazoo_client = need_module("kazoo.client")
        k = kazoo_client.KazooClient(hosts=self.connect + chroot, timeout=10)
        k.start(timeout=15)
        return k


@pytest.fixture
def zookeeper():
    """A started ZooKeeper server, stopped (and its data dir removed) after the test."""
    zk = ZooKeeper().start()
    yield zk
    zk.stop()
    shutil.rmtree(zk.tmp_dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# Client helpers
# ---------------------------------------------------------------------------


def admin_client(bootstrap: str, **conf):
    ck_admin = need_module("confluent_kafka.admin")
    c = {"bootstrap.servers": bootstrap, "broker.address.family": "v4"}
    c.update(conf)
    return ck_admin.AdminClient(c)


def create_topic(bootstrap: str, name: str, partitions: int = 3, config: dict | None = None, timeout: float = 20.0):
    """Create a topic with confluent-kafka's AdminClient and wait until its
    metadata shows every partition with a leader."""
    ck_admin = need_module("confluent_kafka.admin")
    admin = admin_client(bootstrap)
    fs = admin.create_topics(
        [ck_admin.NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    fs[name].result(timeout)

    def ready():
        md = admin.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        return t is not None and t.error is None and len(t.partitions) == partitions and all(p.leader >= 0 for p in t.partitions.values())

    wait_until(ready, timeout, f"metadata of new topic {name!r}")
    return admin


def kcat(*args: str, input: bytes | str | None = None, timeout: float = 60.0, check: bool = True) -> subprocess.CompletedProcess:
    """Run kcat; returns the CompletedProcess (stdout/stderr as bytes)."""
    binary = kcat_path()
    if isinstance(input, str):
        input = input.encode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    try:
        r = subprocess.run([binary, *args], input=input, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"kcat {' '.join(args)} timed out after {timeout}s\nstderr: {(e.stderr or b'').decode(errors='replace')[-3000:]}")
    if check and r.returncode != 0:
        raise AssertionError(
            f"kcat {' '.join(args)} exited {r.returncode}\nstderr: {r.stderr.decode(errors='replace')[-3000:]}"
        )
    return r


def kcat_metadata(bootstrap: str, *extra: str, timeout: float = 30.0) -> dict:
    r = kcat("-L", "-J", "-b", bootstrap, "-X", "broker.address.family=v4", *extra, timeout=timeout)
    return json.loads(r.stdout)


def consume_all(bootstrap: str, topic: str, partitions, expected: dict | None = None, timeout: float = 60.0, **conf):
    """Read every partition from the beginning with confluent-kafka's Consumer
    using assign() (no group join, no commits).

    `expected` maps partition -> number of messages to read; by default the
    current high watermark of each partition. Returns {partition: [Message]}.
    """
    ck = need_module("confluent_kafka")
    c = {
        "bootstrap.servers": bootstrap,
        "broker.address.family": "v4",
        "group.id": "strom-tests-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "earliest",
    }
    c.update(conf)
    consumer = ck.Consumer(c)
    try:
        if expected is None:
            expected = {}
            for p in partitions:
                lo, hi = consumer.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)
                assert lo == 0, f"partition {p}: log start offset {lo}, expected 0"
                expected[p] = hi
        out = {p: [] for p in partitions}
        remaining = sum(expected.values())
        consumer.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout
        while remaining > 0:
            if time.monotonic() > deadline:
                got = {p: len(v) for p, v in out.items()}
                raise AssertionError(f"consumed {got} of {expected} from {topic} within {timeout}s")
            for m in consumer.consume(num_messages=10000, timeout=0.5):
                if m.error():
                    raise AssertionError(f"consumer error: {m.error()}")
                out[m.partition()].append(m)
                if len(out[m.partition()]) <= expected.get(m.partition(), 0):
                    remaining -= 1
        # Nothing beyond what was expected may arrive.
        extra = consumer.consume(num_messages=1000, timeout=0.5)
        for m in extra:
            if not m.error():
                out[m.partition()].append(m)
        return out
    finally:
        consumer.close()


def assert_dense_offsets(by_partition: dict) -> None:
    for p, msgs in by_partition.items():
        offsets = [m.offset() if callable(getattr(m, "offset", None)) else m.offset for m in msgs]
        assert offsets == list(range(len(offsets))), (
            f"partition {p}: offsets not dense from 0: first={offsets[:5]} "
            f"gaps/dups near {[o for i, o in enumerate(offsets) if o != i][:5]}"
        )

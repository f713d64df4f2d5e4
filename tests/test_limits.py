"""The socket server's limits on the real binary: request memory bounded by
`queued.max.request.bytes`, `max.connections` with `connections.max.idle.ms`
(idle and half-open sockets past the cap), `max.connections.per.ip` and its
overrides, and a graceful shutdown that answers the requests in flight.

Every loop is bounded in count and time; assertions are on memory (VmRSS),
metrics, bytes and data, never on log lines.
"""

import re
import select
import socket
import struct
import threading
import time
import urllib.request

import pytest

from conftest import (
    api_versions,
    consume_all,
    create_topic,
    encode_api_versions_request,
    need_module,
    parse_api_versions_response,
    read_frame,
    recv_exact,
    wait_until,
)

ck = need_module("confluent_kafka")

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def metric(broker, name: str, labels: str = "") -> float:
    """Sum of a metric's samples (those whose labels contain `labels`)."""
    text = urllib.request.urlopen(broker.metrics_url + "/metrics", timeout=5).read().decode()
    total, seen = 0.0, False
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if m and labels in (m.group(1) or ""):
            total += float(m.group(2))
            seen = True
    assert seen, f"metric {name}{labels} not exported"
    return total


def produce_and_check(bootstrap: str, topic: str, n: int, tag: str, timeout: float = 20.0) -> None:
    """n messages with acks=all, every one delivered, then read back."""
    p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "acks": "all",
                     "linger.ms": 5, "message.timeout.ms": int(timeout * 1000)})
    errors, ok = [], []
    for i in range(n):
        p.produce(topic, value=f"{tag}-{i}".encode(), partition=0,
                  on_delivery=lambda err, msg: (errors if err else ok).append(err or msg.offset()))
    left = p.flush(timeout)
    assert left == 0 and not errors and len(ok) == n, f"{tag}: {left} undelivered, errors {errors[:3]}"
    got = consume_all(bootstrap, topic, [0], timeout=timeout)
    values = {m.value().decode() for m in got[0]}
    assert {f"{tag}-{i}" for i in range(n)} <= values, f"{tag}: messages missing after produce"


def api_versions_on(sock: socket.socket, correlation_id: int = 7) -> dict:
    sock.sendall(encode_api_versions_request(0, correlation_id))
    return parse_api_versions_response(read_frame(sock), 0)


def closed_by_broker(sock: socket.socket, timeout: float) -> bool:
    """True when the broker closes `sock` (EOF or reset) within `timeout`."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


# ---------------------------------------------------------------------------
# queued.max.request.bytes
# ---------------------------------------------------------------------------

ANNOUNCED = 100_000_000  # each hostile frame announces 100 MB …
SENT = 20_000_000  # … and sends 20 MB of it
HOSTILE = 100
# Kafka requires queued.max.request.bytes >= socket.request.max.bytes; the
# smallest pool that admits a 100 MB frame.
POOL = 104_857_600


def test_request_memory_is_bounded_by_the_pool(make_broker):
    b = make_broker({"queued.max.request.bytes": POOL, "socket.request.max.bytes": POOL})
    create_topic(b.bootstrap, "mem", partitions=1)
    produce_and_check(b.bootstrap, "mem", 20, "warmup")
    idle = rss_bytes(b.proc.pid)

    socks = []
    for _ in range(HOSTILE):
        s = socket.create_connection(("127.0.0.1", b.external_port), timeout=5)
        s.setblocking(False)
        s.sendall(struct.pack(">i", ANNOUNCED))
        socks.append(s)
    sent = {s: 0 for s in socks}
    chunk = b"\x00" * (256 * 1024)
    peak = idle
    pool_peak = 0.0
    # Push until every socket sent its 20 MB or none has moved for 2 s (the
    # broker stopped reading: backpressure); at most 40 s.
    deadline = time.monotonic() + 40
    last_progress = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_progress < 2.0:
        pending = [s for s in socks if sent[s] < SENT]
        if not pending:
            break
        _, writable, _ = select.select([], pending, [], 0.2)
        for s in writable:
            try:
                n = s.send(chunk[: SENT - sent[s]])
            except BlockingIOError:
                continue
            if n:
                sent[s] += n
                last_progress = time.monotonic()
        peak = max(peak, rss_bytes(b.proc.pid))
    total_sent = sum(sent.values())
    assert total_sent >= SENT, f"the hostile clients could send only {total_sent} bytes"

    # While the hostile frames hold what they hold, other clients still work.
    produce_and_check(b.bootstrap, "mem", 50, "during")
    peak = max(peak, rss_bytes(b.proc.pid))
    b.check_alive()
    bound = idle + POOL + 64 * MIB
    print(f"request memory: idle {idle / MIB:.0f} MiB, peak {peak / MIB:.0f} MiB, "
          f"hostile bytes sent {total_sent / MIB:.0f} MiB")
    assert peak < bound, f"RSS peaked at {peak / MIB:.0f} MiB; bound {bound / MIB:.0f} MiB (idle {idle / MIB:.0f} MiB)"
    assert metric(b, "strom_request_pool_capacity_bytes") == POOL
    pool_peak = metric(b, "strom_request_pool_bytes_in_use")
    assert pool_peak <= POOL, f"pool credit in use {pool_peak} over {POOL}"
    assert pool_peak > 0, "the hostile frames hold no credit: were they read at all?"

    for s in socks:
        s.close()
    # Every frame's credit comes back once its connection is gone.
    wait_until(lambda: metric(b, "strom_request_pool_bytes_in_use") == 0, 20, "pool credit returned")
    wait_until(lambda: metric(b, "strom_connections") == 0, 20, "hostile connections closed")
    produce_and_check(b.bootstrap, "mem", 20, "after")


# ---------------------------------------------------------------------------
# max.connections and connections.max.idle.ms
# ---------------------------------------------------------------------------

CAP = 50
IDLE_MS = 3000


def test_idle_and_half_open_connections_past_the_cap(make_broker):
    b = make_broker({"max.connections": CAP, "connections.max.idle.ms": IDLE_MS})
    create_topic(b.bootstrap, "idle", partitions=1)
    wait_until(lambda: metric(b, "strom_connections") <= 2, 10, "set-up clients gone")
    # Whatever the set-up clients leave open counts against the cap, so wait
    # until it is free, then fill it: 40 idle sockets and 10 that send part of
    # a request and stall.
    wait_until(lambda: metric(b, "strom_connections") == 0, 2 * IDLE_MS / 1000 + 5, "cap free")
    t_fill = time.monotonic()
    idle_socks = [socket.create_connection(("127.0.0.1", b.external_port), timeout=5) for _ in range(40)]
    half_open = []
    for _ in range(CAP - 40):
        s = socket.create_connection(("127.0.0.1", b.external_port), timeout=5)
        s.sendall(struct.pack(">i", 100) + b"\x00\x12\x00\x00\x00")  # 9 of 104 bytes
        half_open.append(s)
    wait_until(lambda: metric(b, "strom_connections") == CAP, 2, f"{CAP} connections held")

    # A new client now waits: no ApiVersions answer while the cap is full.
    newcomer = socket.create_connection(("127.0.0.1", b.external_port), timeout=5)
    newcomer.sendall(encode_api_versions_request(0, 42))
    newcomer.settimeout(0.8)
    with pytest.raises(socket.timeout):
        newcomer.recv(4)
    assert time.monotonic() - t_fill < IDLE_MS / 1000, "too slow to observe the full cap; test is void"
    assert metric(b, "strom_acceptor_blocked_total") >= 1

    # After the idle timeout the broker closes every idle and half-open socket …
    for s in idle_socks + half_open:
        assert closed_by_broker(s, IDLE_MS / 1000 + 5), "an idle or half-open connection was not closed"
    assert time.monotonic() - t_fill >= IDLE_MS / 1000 * 0.9, "closed before connections.max.idle.ms"
    assert metric(b, "strom_connections_closed_idle_total") >= CAP
    # … and the waiting client is served.
    newcomer.settimeout(5)
    resp = parse_api_versions_response(read_frame(newcomer), 0)
    assert resp["correlation_id"] == 42 and resp["error_code"] == 0
    newcomer.close()
    for s in idle_socks + half_open:
        s.close()
    # Real clients get in.
    produce_and_check(b.bootstrap, "idle", 10, "after-idle")


# ---------------------------------------------------------------------------
# max.connections.per.ip and its overrides
# ---------------------------------------------------------------------------


def start_up_probes_closed(b) -> None:
    """Waits until the broker has closed the connections of the fixture's
    readiness probes: until then they still count against the limits."""
    wait_until(lambda: metric(b, "strom_connections") == 0, 10, "the readiness probes' connections closed")


def open_accepted(port: int, n: int) -> list:
    out = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert api_versions_on(s, i)["error_code"] == 0
        out.append(s)
    return out


def test_per_ip_limit_closes_excess_at_once(make_broker):
    b = make_broker({"max.connections.per.ip": 4})
    start_up_probes_closed(b)
    held = open_accepted(b.external_port, 4)
    extra = socket.create_connection(("127.0.0.1", b.external_port), timeout=5)
    t0 = time.monotonic()
    assert closed_by_broker(extra, 3), "the fifth connection from 127.0.0.1 stayed open"
    assert time.monotonic() - t0 < 2
    assert metric(b, "strom_connections_refused_total", 'reason="max_connections_per_ip"') == 1
    # The limit is broker-wide: the other listener counts the same address.
    other = socket.create_connection(("127.0.0.1", b.internal_port), timeout=5)
    assert closed_by_broker(other, 3)
    # A slot freed on close is usable again.
    held.pop().close()
    again = wait_until(lambda: open_accepted(b.external_port, 1), 5, "a connection after one closed")
    for s in held + again:
        s.close()


def test_per_ip_override_raises_the_limit(make_broker):
    b = make_broker({"max.connections.per.ip": 2, "max.connections.per.ip.overrides": "localhost:3,127.0.0.1:7"})
    start_up_probes_closed(b)
    held = open_accepted(b.external_port, 7)
    extra = socket.create_connection(("127.0.0.1", b.external_port), timeout=5)
    assert closed_by_broker(extra, 3), "the eighth connection from 127.0.0.1 stayed open"
    assert metric(b, "strom_connections_refused_total", 'reason="max_connections_per_ip"') == 1
    for s in held:
        s.close()


# ---------------------------------------------------------------------------
# Graceful shutdown
# ---------------------------------------------------------------------------


def encode_fetch_v4(correlation_id: int, topic: str, max_wait_ms: int) -> bytes:
    """A Fetch v4 for partition 0 at offset 0, waiting up to `max_wait_ms` for 1 byte."""
    cid = b"strom-tests"
    t = topic.encode()
    body = struct.pack(">iiiib", -1, max_wait_ms, 1, 1 << 20, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, 1 << 20)
    payload = struct.pack(">hhi", 1, 4, correlation_id) + struct.pack(">h", len(cid)) + cid + body
    return struct.pack(">i", len(payload)) + payload


def test_shutdown_answers_in_flight_requests_then_closes(make_broker):
    b = make_broker()
    create_topic(b.bootstrap, "drain", partitions=1)
    create_topic(b.bootstrap, "drain-idle", partitions=1)
    # A producer mid-flight through the shutdown: what it saw acknowledged
    # must be there after the restart.
    acked, failed = [], []
    stop = threading.Event()
    p = ck.Producer({"bootstrap.servers": b.bootstrap, "broker.address.family": "v4", "acks": "all",
                     "linger.ms": 2, "enable.idempotence": True, "message.timeout.ms": 8000,
                     "reconnect.backoff.max.ms": 500})

    def produce():
        i = 0
        while not stop.is_set() and i < 200_000:
            try:
                p.produce("drain", value=f"m-{i}".encode(), partition=0,
                          on_delivery=lambda err, msg, i=i: (failed if err else acked).append(i))
                i += 1
            except BufferError:
                pass
            p.poll(0.001)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    wait_until(lambda: len(acked) > 500, 15, "producer running")

    # A long-polling fetch in flight when SIGTERM comes.
    fetch = socket.create_connection(("127.0.0.1", b.external_port), timeout=10)
    fetch.sendall(encode_fetch_v4(99, "drain-idle", 2500))
    fetch.sendall(encode_fetch_v4(100, "drain", 2500))  # pipelined behind it
    time.sleep(0.3)
    t0 = time.monotonic()
    b.proc.send_signal(15)
    # Listeners close first: new connections are refused while the old drain.
    def refused():
        try:
            socket.create_connection(("127.0.0.1", b.external_port), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True
    wait_until(refused, 3, "listener closed after SIGTERM")
    assert b.running, "broker exited before its in-flight requests were answered"
    # The request being served is answered …
    fetch.settimeout(8)
    (size,) = struct.unpack(">i", recv_exact(fetch, 4))
    body = recv_exact(fetch, size)
    assert struct.unpack(">i", body[:4])[0] == 99
    # … and then the connection closes without serving the next one.
    assert closed_by_broker(fetch, 8)
    b.expected_exit = True
    b.proc.wait(15)
    assert b.proc.returncode == 0
    assert time.monotonic() - t0 < 12, "shutdown took longer than its bound"
    stop.set()
    producer.join(20)
    n_acked = len(acked)

    b.start()
    p.flush(20)
    acked_all = set(acked)
    got = consume_all(b.bootstrap, "drain", [0], timeout=30)
    values = [m.value().decode() for m in got[0]]
    present = {int(v.split("-")[1]) for v in values}
    missing = sorted(acked_all - present)
    assert n_acked > 500 and not missing, f"{len(missing)} acknowledged messages missing, e.g. {missing[:5]}"
    assert len(values) == len(set(values)), "duplicates after the restart"

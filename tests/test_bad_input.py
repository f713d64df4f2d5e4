"""Malformed input closes only its own connection; version negotiation works
the way librdkafka and the Java client expect."""

import socket
import struct
import threading
import time

import pytest

from conftest import (
    api_versions,
    consume_all,
    create_topic,
    encode_api_versions_request,
    need_module,
    parse_api_versions_response,
    read_frame,
)

ck = need_module("confluent_kafka")

UNSUPPORTED_VERSION = 35
CLOSE_TIMEOUT = 5.0


class BackgroundProducer:
    """A confluent-kafka producer delivering a message every 10 ms on its own
    connection, recording when each delivery (or error) happened."""

    def __init__(self, bootstrap, topic):
        self.ok, self.errors = [], []
        self.stop_event = threading.Event()
        self.p = ck.Producer({"bootstrap.servers": bootstrap, "broker.address.family": "v4", "acks": "all",
                              "linger.ms": 0, "message.timeout.ms": 10000})
        self.topic = topic
        self.thread = threading.Thread(target=self.run, daemon=True)

    def cb(self, err, msg):
        (self.errors if err else self.ok).append((time.monotonic(), err))

    def run(self):
        i = 0
        while not self.stop_event.is_set():
            self.p.produce(self.topic, value=f"bg-{i}".encode(), on_delivery=self.cb)
            i += 1
            self.p.poll(0.01)
        self.p.flush(15)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(30)

    def delivered_between(self, t0, t1):
        return sum(1 for t, _ in self.ok if t0 <= t <= t1)


def assert_closed_by_broker(port, payload, half_close=False):
    """Send `payload`; the broker must close the connection within CLOSE_TIMEOUT."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLOSE_TIMEOUT) as s:
        s.settimeout(CLOSE_TIMEOUT)
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + CLOSE_TIMEOUT
        while True:
            try:
                data = s.recv(65536)
            except ConnectionResetError:
                return
            except socket.timeout:
                pytest.fail(f"broker kept the connection open {CLOSE_TIMEOUT}s after {payload[:16]!r}...")
            if not data:
                return
            # A response before closing is tolerated, silence with an open socket is not.
            assert time.monotonic() < deadline, f"broker kept answering after {payload[:16]!r}"


def frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


GARBAGE = {
    "http request": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "size 2 GiB - 1": struct.pack(">I", 0x7FFFFFFF),
    "size -1": struct.pack(">i", -1),
    "size i32::MIN": struct.pack(">i", -(2**31)),
    "unknown api key": frame(struct.pack(">hhi", 9999, 0, 1) + struct.pack(">h", 0)),
    "produce v99": frame(struct.pack(">hhi", 0, 99, 1) + struct.pack(">h", 0)),
    "api key -1": struct.pack(">i", 8) + b"\xff" * 8,
    "header cut short": struct.pack(">i", 3) + b"\x00\x12\x00",
    "random bytes": bytes((i * 151 + 7) % 256 for i in range(512)),
}


def test_garbage_closes_only_its_connection(broker):
    topic = "bad-input"
    create_topic(broker.bootstrap, topic, partitions=1)
    p1, p2 = broker.ports
    with BackgroundProducer(broker.bootstrap, topic) as bg:
        time.sleep(1.0)
        t_during = time.monotonic()
        problems = []
        for name, payload in GARBAGE.items():
            for port in (p1, p2):
                try:
                    assert_closed_by_broker(port, payload)
                except (AssertionError, pytest.fail.Exception) as e:
                    problems.append(f"{name} on port {port}: {e}")
            broker.check_alive()
        # A frame announced as 100 bytes of which 10 arrive before the client hangs up.
        try:
            assert_closed_by_broker(p1, struct.pack(">i", 100) + b"\x00" * 10, half_close=True)
        except (AssertionError, pytest.fail.Exception) as e:
            problems.append(f"half-closed short frame: {e}")
        t_after = time.monotonic()
        time.sleep(1.5)
        t_end = time.monotonic()

    assert not problems, "connections not closed by the broker:\n" + "\n".join(problems)
    assert not bg.errors, f"background producer saw errors: {bg.errors[:3]}"
    assert bg.delivered_between(0, t_during) > 0, "nothing delivered before the bad input"
    assert bg.delivered_between(t_after, t_end) > 0, "nothing delivered after the bad input"
    assert len(bg.ok) > 20, len(bg.ok)
    broker.check_alive()
    assert api_versions("127.0.0.1", p1)["error_code"] == 0


def uvarint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def cstr(s: str) -> bytes:
    """A compact (flexible-version) string."""
    return uvarint(len(s) + 1) + s.encode()


def istr(s: str) -> bytes:
    """An int16-length string."""
    return struct.pack(">h", len(s)) + s.encode()


def header(api_key: int, version: int, flexible: bool) -> bytes:
    """Request header v1 (v2 when flexible): null client id."""
    return struct.pack(">hhih", api_key, version, 7, -1) + (b"\x00" if flexible else b"")


I32_MAX = 2**31 - 1
U32_MAX = 2**32 - 1

# Impossible counts, top-level and nested, flexible and not: before the bounded
# walker each of these made kafka-protocol reserve gigabytes and abort the broker.
HOSTILE = {
    # The 16-byte frame from the adversarial run: compact topics count 2^32-2.
    "metadata v9 topics 2^32-2": header(3, 9, True) + uvarint(U32_MAX - 1),
    "metadata v1 topics 2^31-1": header(3, 1, False) + struct.pack(">i", I32_MAX),
    "produce v3 partitions": header(0, 3, False) + struct.pack(">hhii", -1, 1, 1000, 1) + istr("t")
    + struct.pack(">i", I32_MAX),
    "produce v9 partitions": header(0, 9, True) + b"\x00" + struct.pack(">hi", 1, 1000) + uvarint(2) + cstr("t")
    + uvarint(U32_MAX),
    "offset commit v2 partitions": header(8, 2, False) + istr("g") + struct.pack(">i", 1) + istr("m")
    + struct.pack(">qi", -1, 1) + istr("t") + struct.pack(">i", I32_MAX),
    "offset commit v8 partitions": header(8, 8, True) + cstr("g") + struct.pack(">i", 1) + cstr("m") + b"\x00"
    + uvarint(2) + cstr("t") + uvarint(U32_MAX - 1),
    "join group v5 protocols": header(11, 5, False) + istr("g") + struct.pack(">ii", 10000, 10000) + istr("")
    + struct.pack(">h", -1) + istr("consumer") + struct.pack(">i", I32_MAX),
    "join group v6 protocols": header(11, 6, True) + cstr("g") + struct.pack(">ii", 10000, 10000) + cstr("")
    + b"\x00" + cstr("consumer") + uvarint(U32_MAX),
    "fetch v11 partitions": header(1, 11, False) + struct.pack(">iiiibii", -1, 500, 1, 1 << 20, 0, 0, -1)
    + struct.pack(">i", 1) + istr("t") + struct.pack(">i", I32_MAX),
    "fetch v12 partitions": header(1, 12, True) + struct.pack(">iiiibii", -1, 500, 1, 1 << 20, 0, 0, -1)
    + uvarint(2) + cstr("t") + uvarint(U32_MAX),
    # Fits the bytes, but 100,000 empty topic names would decode to ~100x the frame.
    "metadata v9 100k empty topics": header(3, 9, True) + uvarint(100_001) + b"\x01\x00" * 100_000
    + b"\x01\x00\x00\x00",
}


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_impossible_counts_are_refused_without_allocating(broker):
    """Every hostile frame closes its connection; the broker keeps serving a
    real client and its RSS grows by less than 64 MiB."""
    topic = "bounded-walk"
    create_topic(broker.bootstrap, topic, partitions=1)
    p1, p2 = broker.ports
    pid = broker.proc.pid
    assert api_versions("127.0.0.1", p1)["error_code"] == 0
    rss_before = vm_rss_kib(pid)
    problems = []
    for _round in range(3):
        for name, payload in HOSTILE.items():
            for port in (p1, p2):
                try:
                    assert_closed_by_broker(port, frame(payload))
                except (AssertionError, pytest.fail.Exception) as e:
                    problems.append(f"{name} on port {port}: {e}")
            broker.check_alive()
    assert not problems, "connections not closed by the broker:\n" + "\n".join(problems)
    rss_after = vm_rss_kib(pid)
    assert rss_after - rss_before < 64 * 1024, f"RSS grew from {rss_before} KiB to {rss_after} KiB"

    p = ck.Producer({"bootstrap.servers": broker.bootstrap, "broker.address.family": "v4", "acks": "all"})
    delivered = []
    p.produce(topic, key=b"k", value=b"after the hostile frames", on_delivery=lambda err, msg: delivered.append(err))
    assert p.flush(15) == 0
    assert delivered == [None], delivered
    got = consume_all(broker.bootstrap, topic, [0], timeout=30)
    assert [m.value() for m in got[0]] == [b"after the hostile frames"]
    broker.check_alive()
    assert vm_rss_kib(pid) - rss_before < 64 * 1024
    assert "refused request frame before decoding" in broker.log_tail(2000)


def test_many_bad_connections_at_once(broker):
    """A burst of half-open and oversized connections does not stop service."""
    p1, _ = broker.ports
    socks = []
    try:
        for i in range(50):
            s = socket.create_connection(("127.0.0.1", p1), timeout=5)
            s.sendall(struct.pack(">i", 0x7FFFFFFF) if i % 2 else b"\x00\x00")
            socks.append(s)
        assert api_versions("127.0.0.1", p1)["error_code"] == 0
    finally:
        for s in socks:
            s.close()
    broker.check_alive()


def test_api_versions_unsupported_version(broker):
    """KIP-511: ApiVersions at a version the broker doesn't know answers error 35
    with the supported ranges, encoded as v0, and the connection stays usable."""
    p1, _ = broker.ports
    with socket.create_connection(("127.0.0.1", p1), timeout=5) as s:
        s.settimeout(5)
        s.sendall(encode_api_versions_request(99, correlation_id=77))
        resp = parse_api_versions_response(read_frame(s), version=0)
        assert resp["correlation_id"] == 77
        assert resp["error_code"] == UNSUPPORTED_VERSION, resp
        apis = resp["api_versions"]
        assert apis, "UNSUPPORTED_VERSION response must list the supported versions"
        assert 18 in apis and apis[18][0] == 0 and apis[18][1] >= 3, apis.get(18)

        # librdkafka retries on the same connection with a version from that list.
        retry = min(apis[18][1], 3)
        s.sendall(encode_api_versions_request(retry, correlation_id=78))
        resp = parse_api_versions_response(read_frame(s), version=retry)
        assert (resp["correlation_id"], resp["error_code"]) == (78, 0), resp
        assert resp["api_versions"] == apis
    broker.check_alive()


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_api_versions_each_version(broker, version):
    """Each ApiVersions version parses exactly (response header v0, no tagged
    byte in the header even for v3) and advertises minimum version 0 for the
    APIs clients probe."""
    resp = api_versions("127.0.0.1", broker.ports[0], version=version)
    assert resp["error_code"] == 0, resp
    apis = resp["api_versions"]
    for key, name in ((0, "Produce"), (1, "Fetch"), (2, "ListOffsets"), (3, "Metadata"), (18, "ApiVersions")):
        assert key in apis, f"{name} ({key}) not advertised: {apis}"
        assert apis[key][1] >= apis[key][0], (name, apis[key])
    # librdkafka's feature detection turns features off when these minimums are raised.
    for key, name in ((0, "Produce"), (2, "ListOffsets"), (10, "FindCoordinator"), (18, "ApiVersions"), (22, "InitProducerId")):
        if key in apis:
            assert apis[key][0] == 0, f"{name} advertised minimum {apis[key][0]}, clients probe with 0"

"""Capture the fuzz seed corpus from real clients' traffic.

Starts the real broker behind a recording TCP proxy (advertised as the
broker's address, so every connection goes through it), drives confluent-kafka,
kafka-python (current and pinned to old api_versions) and kcat through
produce, consume, groups and admin calls, and writes:

- tests/fuzz/corpus/request/<api>-v<version>-<hash>: request frames as sent
  (header and body, without the 4-byte size), at most a few per (API, version),
  and the same as API key, version and body (the target's input form);
- tests/fuzz/corpus/record_batch/<hash>: the record batches the broker stored
  (a selector byte first, as the target expects);
- tests/fuzz/corpus/offsets_records/<hash>: the batches of __consumer_offsets.

Run from the repository root after `cargo build --release`:
    python3 tests/fuzz/capture_corpus.py
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import conftest  # noqa: E402  (the integration tests' harness)

CORPUS = HERE / "corpus"
PER_VERSION = 4


class RecordingProxy:
    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.frames: dict[tuple[int, int], list[bytes]] = defaultdict(list)
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _requests(self, src, dst):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                buf += data
                while len(buf) >= 4:
                    (n,) = struct.unpack(">i", buf[:4])
                    if len(buf) < 4 + n:
                        break
                    frame, buf = buf[4:4 + n], buf[4 + n:]
                    if len(frame) >= 4:
                        key, version = struct.unpack(">hh", frame[:4])
                        with self.lock:
                            kept = self.frames[(key, version)]
                            if len(kept) < PER_VERSION and frame not in kept and len(frame) < 256 * 1024:
                                kept.append(frame)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def write(dirname: str, name: str, data: bytes) -> None:
    d = CORPUS / dirname
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def batches_of(path: Path):
    data = path.read_bytes()
    pos = 0
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">i", data[pos + 8:pos + 12])
        end = pos + 12 + length
        if length <= 0 or end > len(data):
            break
        yield data[pos:end]
        pos = end


def drive_clients(bootstrap: str) -> None:
    import confluent_kafka as ck
    from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic, ResourceType
    import kafka

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = {"fz-plain": {}, "fz-compact": {"cleanup.policy": "compact"}}
    for name, cfg in topics.items():
        admin.create_topics([NewTopic(name, 2, 1, config=cfg)])[name].result(15)
    admin.describe_configs([ConfigResource(ResourceType.TOPIC, "fz-plain")])
    admin.create_partitions([NewPartitions("fz-plain", 3)])["fz-plain"].result(15)
    admin.list_topics(timeout=10)
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        p = ck.Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                         "enable.idempotence": codec == "zstd", "linger.ms": 5})
        for i in range(50):
            p.produce("fz-plain", key=f"k{i % 7}".encode(), value=f"{codec}-{i}".encode() * 3,
                      headers=[("h", b"v")])
            p.produce("fz-compact", key=f"k{i % 5}".encode(), value=None if i % 9 == 0 else b"x" * i)
        assert p.flush(30) == 0
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "fz-group", "auto.offset.reset": "earliest"})
    c.subscribe(["fz-plain"])
    got, deadline = 0, time.time() + 20
    while got < 100 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error():
            got += 1
    c.commit(asynchronous=False)
    c.close()
    for pin in (None, (0, 9), (0, 10, 1), (0, 11, 0), (2, 0, 0)):
        kw = {"api_version": pin} if pin else {}
        kp = kafka.KafkaProducer(bootstrap_servers=bootstrap, **kw)
        for i in range(10):
            kp.send("fz-plain", key=b"kp", value=f"kafka-python-{pin}-{i}".encode())
        kp.flush(20)
        kp.close()
        kc = kafka.KafkaConsumer("fz-plain", bootstrap_servers=bootstrap, group_id=f"fz-kp-{pin}",
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000, **kw)
        for _ in kc:
            pass
        try:
            kc.commit()
        except Exception as e:  # old pins may not commit through a group
            print("kafka-python", pin, "commit:", e)
        kc.close()
    kcat = conftest.kcat_path()
    subprocess.run([kcat, "-L", "-b", bootstrap], capture_output=True, timeout=30)
    subprocess.run([kcat, "-P", "-b", bootstrap, "-t", "fz-plain", "-z", "gzip"], input=b"a\nb\nc\n",
                   capture_output=True, timeout=30)
    subprocess.run([kcat, "-C", "-b", bootstrap, "-t", "fz-plain", "-e", "-o", "beginning"],
                   capture_output=True, timeout=30)
    subprocess.run([kcat, "-G", "fz-kcat", "-b", bootstrap, "-e", "fz-plain"], capture_output=True, timeout=30)
    admin.delete_topics(["fz-compact"])["fz-compact"].result(15)


def request_seeds(frame: bytes) -> list[bytes]:
    """The request target's input is API key and version (4 bytes) and a
    body: the frame without correlation id and client id (and, for a
    flexible header, its tagged fields: both cuts are kept, one is right),
    plus the whole frame, which the target also checks as a frame."""
    (n,) = struct.unpack(">h", frame[8:10])
    rest = frame[10 + max(n, 0):]
    seeds = [frame, frame[:4] + rest]
    if rest[:1] == b"\x00":
        seeds.append(frame[:4] + rest[1:])
    return seeds


def main() -> None:
    broker = conftest.Broker()
    proxy = RecordingProxy(broker.external_port)
    p2 = broker.internal_port
    broker.extra_overrides["advertised.listeners"] = f"EXTERNAL://127.0.0.1:{proxy.port},INTERNAL://localhost:{p2}"
    broker.start()
    try:
        drive_clients(f"127.0.0.1:{proxy.port}")
        time.sleep(1)
        n = 0
        with proxy.lock:
            for (key, version), frames in sorted(proxy.frames.items()):
                for f in frames:
                    for seed in request_seeds(f):
                        write("request", f"{key}-v{version}-{hashlib.sha1(seed).hexdigest()[:10]}", seed)
                        n += 1
        print(f"request: {n} frames of {len(proxy.frames)} (API, version) pairs")
        m = o = 0
        for seg in broker.data_dir.glob("*/*.log"):
            offsets = seg.parent.name.startswith("__consumer_offsets")
            for b in batches_of(seg):
                h = hashlib.sha1(b).hexdigest()[:10]
                if offsets:
                    write("offsets_records", h, b)
                    o += 1
                elif m < 200:
                    write("record_batch", h, bytes([m % 8]) + b)
                    m += 1
        print(f"record_batch: {m} batches, offsets_records: {o} batches")
    finally:
        broker.stop()
        broker.cleanup()


if __name__ == "__main__":
    os.environ.setdefault("CI", "")
    main()

#!/usr/bin/env python3
"""Scale figures of issue 9 (targets 6-8), measured on the real broker binary.

    python3 benches/scale.py partitions   [--topics 1000 --partitions 10]
    python3 benches/scale.py recovery     [--gib 10 --partitions 100]
    python3 benches/scale.py connections  [--count 5000]
    python3 benches/scale.py all

Each scenario starts `target/release/strom server` (build it first with
`cargo build --release`) on free 127.0.0.1 ports with a fresh data directory
under --data-root, drives it with confluent-kafka (topics, watermarks), raw
Kafka ApiVersions requests (idle connections) and `strom perf produce` (load),
reads RSS and open file descriptors from /proc, and prints one JSON object per
scenario. "Ready" is the first moment both a TCP connect and an ApiVersions
round trip succeed: strom binds its listeners only after every log is open.

- partitions: creates --topics topics of --partitions partitions (CreateTopics
  in batches), stops the broker (SIGTERM), starts it again and times start ->
  ready; reports RSS and open fds before and after.
- recovery: one topic of --partitions partitions, `strom perf produce` of
  --gib GiB of 1 KiB records (acks=1), then kill -9 and a timed restart;
  checks that the log end offsets add up to every acknowledged record.
- connections: baseline `strom perf produce`, then --count connections that
  each do one ApiVersions round trip and stay open idle; reports RSS growth and
  the producer's throughput while they are held.

Bounded in count and time; not part of the test suite (figures are not tests).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from conftest import api_versions, encode_api_versions_request, free_port, read_frame  # noqa: E402

STROM = REPO / "target" / "release" / "strom"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def usage(pid: int) -> dict:
    return {"rss_kib": rss_kib(pid), "open_fds": open_fds(pid)}


class Server:
    def __init__(self, data_root: Path, extra: dict | None = None):
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="strom-scale-", dir=data_root))
        self.extra = extra or {}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> float:
        """Starts the broker; returns seconds from spawn to ready."""
        cmd = [str(STROM), "server"]
        props = {
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "log.dirs": str(self.dir / "logs"),
            "metrics.listener": "",
            "auto.create.topics.enable": "false",
            # As config/server.toml ships it (Kafka's default is 1).
            "num.recovery.threads.per.data.dir": "2",
        }
        props.update(self.extra)
        for k, v in props.items():
            cmd += ["--override", f"{k}={v}"]
        log = open(self.dir / "broker.log", "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, "NO_COLOR": "1"})
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"strom exited with {self.proc.returncode}; see {self.dir}/broker.log")
            try:
                if api_versions("127.0.0.1", self.port, timeout=2.0)["error_code"] == 0:
                    return time.monotonic() - t0
            except (OSError, AssertionError, ValueError):
                pass
            if time.monotonic() - t0 > timeout:
                raise SystemExit(f"strom not ready within {timeout}s")
            time.sleep(0.005)

    def stop(self) -> float:
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        return time.monotonic() - t0

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def cleanup(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.kill9()
        shutil.rmtree(self.dir, ignore_errors=True)


def perf_produce(bootstrap: str, topic: str, records: int, size: int, partitions: int, acks: str) -> dict:
    out = subprocess.run(
        [str(STROM), "perf", "produce", "--bootstrap-server", bootstrap, "--topic", topic,
         "--partitions", str(partitions), "--num-records", str(records), "--record-size", str(size),
         "--producer-props", f"acks={acks}", "batch.size=1000000", "linger.ms=5", "--json"],
        check=True, capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout)


def admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap})


def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "scale-bench"})
    try:
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions))
    finally:
        c.close()


def scenario_partitions(args) -> dict:
    from confluent_kafka.admin import NewTopic
    srv = Server(args.data_root)
    try:
        srv.start()
        a = admin(srv.bootstrap)
        t0 = time.monotonic()
        names = [f"scale-{i:04d}" for i in range(args.topics)]
        for i in range(0, len(names), 100):
            futures = a.create_topics([NewTopic(n, args.partitions, 1) for n in names[i:i + 100]],
                                      request_timeout=120)
            for f in futures.values():
                f.result()
        created_s = time.monotonic() - t0
        md = a.list_topics(timeout=60)
        total = sum(len(md.topics[n].partitions) for n in names)
        before = usage(srv.proc.pid)
        stop_s = srv.stop()
        ready_s = srv.start()
        after = usage(srv.proc.pid)
        md = admin(srv.bootstrap).list_topics(timeout=60)
        total_after = sum(len(md.topics[n].partitions) for n in names if n in md.topics)
        return {"scenario": "partitions", "topics": args.topics, "partitions": total,
                "partitions_after_restart": total_after, "create_s": round(created_s, 2),
                "after_create": before, "shutdown_s": round(stop_s, 3),
                "restart_to_ready_s": round(ready_s, 3), "after_restart": after,
                "rss_after_restart_mib": round(after["rss_kib"] / 1024, 1)}
    finally:
        srv.cleanup()


def scenario_recovery(args) -> dict:
    srv = Server(args.data_root)
    try:
        srv.start()
        records = int(args.gib * (1 << 30) // 1024)
        rep = perf_produce(srv.bootstrap, "recovery", records, 1024, args.partitions, "1")
        acked = rep["records"] - rep.get("errors", 0)
        before = end_offsets(srv.bootstrap, "recovery", args.partitions)
        srv.kill9()
        ready_s = srv.start(timeout=600)
        after = end_offsets(srv.bootstrap, "recovery", args.partitions)
        size = sum(f.stat().st_size for f in (srv.dir / "logs").rglob("*.log"))
        return {"scenario": "recovery", "partitions": args.partitions, "records_acked": acked,
                "produce_mib_per_sec": rep["mb_per_sec"], "log_end_before_kill": before,
                "log_end_after_restart": after, "log_bytes_on_disk": size,
                "restart_after_kill9_to_ready_s": round(ready_s, 3),
                "rss_after_restart_mib": round(rss_kib(srv.proc.pid) / 1024, 1),
                "nothing_lost": after >= acked}
    finally:
        srv.cleanup()


def scenario_connections(args) -> dict:
    srv = Server(args.data_root)
    socks: list[socket.socket] = []
    try:
        srv.start()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        perf_produce(srv.bootstrap, "conns", args.records, 1024, 3, "all")  # creates the topic; warm-up
        base = perf_produce(srv.bootstrap, "conns", args.records, 1024, 3, "all")
        rss0 = rss_kib(srv.proc.pid)
        t0 = time.monotonic()
        req = encode_api_versions_request(0, 1, "idle-client")
        for _ in range(args.count):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s.sendall(req)
            read_frame(s)
            socks.append(s)
        connect_s = time.monotonic() - t0
        time.sleep(1)
        rss1 = rss_kib(srv.proc.pid)
        loaded = perf_produce(srv.bootstrap, "conns", args.records, 1024, 3, "all")
        rss2 = rss_kib(srv.proc.pid)
        return {"scenario": "connections", "connections": len(socks), "connect_s": round(connect_s, 2),
                "rss_before_mib": round(rss0 / 1024, 1), "rss_idle_connections_mib": round(rss1 / 1024, 1),
                "rss_growth_mib": round((rss1 - rss0) / 1024, 1),
                "rss_after_produce_mib": round(rss2 / 1024, 1),
                "open_fds": open_fds(srv.proc.pid),
                "produce_mib_per_sec_without": base["mb_per_sec"],
                "produce_mib_per_sec_with": loaded["mb_per_sec"],
                "p99_ms_without": base["latency_ms"]["p99"], "p99_ms_with": loaded["latency_ms"]["p99"]}
    finally:
        for s in socks:
            s.close()
        srv.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario", choices=["partitions", "recovery", "connections", "all"])
    p.add_argument("--topics", type=int, default=1000)
    p.add_argument("--partitions", type=int, default=None,
                   help="per topic (partitions: 10) or of the one topic (recovery: 100)")
    p.add_argument("--gib", type=float, default=10.0)
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--records", type=int, default=300_000, help="records of each producer run (connections)")
    p.add_argument("--data-root", type=Path, default=Path(tempfile.gettempdir()))
    args = p.parse_args()
    if not STROM.exists():
        raise SystemExit(f"{STROM} is missing: cargo build --release")
    print(json.dumps({"loadavg": Path("/proc/loadavg").read_text().split()[:3]}), flush=True)
    runs = ["partitions", "recovery", "connections"] if args.scenario == "all" else [args.scenario]
    for name in runs:
        a = argparse.Namespace(**vars(args))
        if a.partitions is None:
            a.partitions = 100 if name == "recovery" else 10
        print(json.dumps(globals()[f"scenario_{name}"](a)), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Web console figures on the real binary (a benchmark, not a test).

    python3 benches/console.py [--topics 1000] [--partitions 3] [--groups 100]

Starts target/release/strom on free 127.0.0.1 ports with a temporary data dir,
creates the topics through the console's API, commits offsets for the groups
with confluent-kafka (one partition of one topic each, on 100 different topics),
produces 1,000 records of ~200 bytes to one topic, then times each page and API
call (median and p90 of 20 requests, after one warm-up) and the RSS an idle
console adds (the same broker with console.listener empty, 15 s idle each).
Targets: overview, topic list, group list <= 50 ms; a page of 100 messages <= 30 ms;
idle console <= 3 MB RSS.

Then, on the same broker (1,000 topics still there), the cost of browsing during a
produce benchmark: `strom perf produce` (--produce-records records of
--record-size bytes, acks=all, 3 partitions) run --pairs times without and with a
browser-like loop beside it (one client loading the overview, topic list, group
list, a topic page and 100-message pages of the topic being produced to, one page
every --browse-interval seconds), the two orders alternating within the pairs.
Each run produces to a fresh topic, deleted after it, so no run pays for the
writeback of an earlier one; --data-dir /dev/shm keeps the disk out entirely.
Reported: each run's records/s and the load average, the medians, and the ratio
with/without (target >= 0.95). Skip it with --pairs 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STROM = REPO / "target" / "release" / "strom"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Broker:
    def __init__(self, console: bool, parent: str | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="strom-bench-console-", dir=parent))
        self.kafka, self.metrics, self.console = free_port(), free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.kafka}"
        self.url = f"http://127.0.0.1:{self.console}"
        cmd = [str(STROM), "server",
               "--override", f"listeners=PLAINTEXT://127.0.0.1:{self.kafka}",
               "--override", f"log.dirs={self.dir / 'logs'}",
               "--override", f"metrics.listener=127.0.0.1:{self.metrics}",
               "--override", f"console.listener={'127.0.0.1:%d' % self.console if console else ''}",
               "--override", "auto.create.topics.enable=false"]
        self.log = open(self.dir / "broker.log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/ready", timeout=2).status == 200:
                    return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        raise SystemExit("broker did not become ready")

    def stop(self):
        self.proc.terminate()
        try:
            # A clean shutdown flushes and checkpoints every log: minutes
            # after gigabytes of produce on a loaded machine.
            self.proc.wait(300)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def call(method: str, url: str, body=None, token: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("x-csrf-token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def timed(url: str, n: int = 20) -> tuple[float, float, int]:
    call("GET", url)
    times = []
    size = 0
    for _ in range(n):
        t = time.perf_counter()
        size = len(call("GET", url))
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], size


BROWSE_PATHS = ["/", "/topics", "/groups", "/topics/{topic}",
                "/topics/{topic}/messages?from=newest&limit=100",
                "/api/v1/topics/{topic}/messages?partition=0&from=newest&limit=100",
                "/topics/{topic}/messages?partition=1&limit=100"]


def produce_run(b: Broker, topic: str, records: int, size: int) -> float:
    """One `strom perf produce` run to `topic`; its records/s."""
    out = subprocess.run(
        [str(STROM), "perf", "produce", "--bootstrap-server", b.bootstrap, "--topic", topic,
         "--partitions", "3", "--num-records", str(records), "--record-size", str(size), "--throughput", "-1",
         "--producer-props", "acks=all", "linger.ms=5", "batch.size=1000000", "--json"],
        check=True, capture_output=True, timeout=600).stdout
    r = json.loads(out)
    if r.get("errors"):
        raise SystemExit(f"perf produce had errors: {r}")
    return r["records_per_sec"]


def browse_loop(b: Broker, topic: str, interval: float, stop, counts: list[int]) -> None:
    """A browser-like client: one page after the other, `interval` s apart."""
    import threading  # noqa: F401 - the caller runs this in a thread
    i = 0
    while not stop.is_set():
        try:
            call("GET", b.url + BROWSE_PATHS[i % len(BROWSE_PATHS)].format(topic=topic))
            counts[0] += 1
        except Exception:  # noqa: BLE001 - counted, the loop goes on
            counts[1] += 1
        i += 1
        stop.wait(interval)


def produce_while_browsing(b: Broker, pairs: int, records: int, size: int, interval: float) -> dict:
    import threading
    token = json.loads(call("GET", b.url + "/api/v1/csrf"))["token"]
    produce_run(b, "bench-warm-up", min(records, 100_000), size)
    runs = {"without": [], "with": []}
    rows = []
    for pair in range(pairs):
        order = ["without", "with"] if pair % 2 == 0 else ["with", "without"]
        for kind in order:
            load_before = os.getloadavg()[0]
            stop = threading.Event()
            counts = [0, 0]
            t = None
            # Each run writes a fresh topic, deleted after it: every run starts
            # from the same state, and the data written never grows past one
            # run's (no dirty-page writeback of earlier runs in the figures).
            topic = f"bench-produce-{pair}-{kind}"
            call("POST", b.url + "/api/v1/topics", {"name": topic, "partitions": 3}, token)
            if kind == "with":
                t = threading.Thread(target=browse_loop, args=(b, topic, interval, stop, counts), daemon=True)
                t.start()
            rps = produce_run(b, topic, records, size)
            stop.set()
            if t:
                t.join(30)
            call("DELETE", b.url + f"/api/v1/topics/{topic}?confirm={topic}", None, token)
            runs[kind].append(rps)
            rows.append({"pair": pair, "kind": kind, "records_per_sec": round(rps),
                         "pages": counts[0], "page_errors": counts[1],
                         "load1_before": round(load_before, 2), "load1_after": round(os.getloadavg()[0], 2)})
            print(json.dumps(rows[-1]), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in runs.items()}
    ratios = [w / o for w, o in zip(runs["with"], runs["without"])]
    return {"records": records, "record_size": size, "browse_interval_s": interval, "runs": rows,
            "median_without": round(med["without"]), "median_with": round(med["with"]),
            "ratio_of_medians": round(med["with"] / med["without"], 3),
            "median_of_pair_ratios": round(statistics.median(ratios), 3)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--produce-records", type=int, default=5_000_000)
    ap.add_argument("--record-size", type=int, default=100)
    ap.add_argument("--browse-interval", type=float, default=0.5)
    ap.add_argument("--data-dir", default=None,
                    help="parent of the broker's temporary log dir (e.g. /dev/shm: no disk writeback in the pairs)")
    ap.add_argument("--skip-pages", action="store_true", help="only the produce-while-browsing pairs")
    args = ap.parse_args()
    if not STROM.exists():
        raise SystemExit(f"{STROM} missing: cargo build --release")
    import confluent_kafka as ck

    results = {}
    b = Broker(console=True, parent=args.data_dir)
    try:
        token = json.loads(call("GET", b.url + "/api/v1/csrf"))["token"]
        t0 = time.time()
        for i in range(args.topics):
            call("POST", b.url + "/api/v1/topics", {"name": f"topic-{i:04d}", "partitions": args.partitions}, token)
        results["create_topics_s"] = round(time.time() - t0, 1)
        p = ck.Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
        for i in range(1000):
            p.produce("topic-0000", key=f"k{i}".encode(), value=json.dumps({"i": i, "pad": "x" * 180}).encode(),
                      partition=0)
        p.flush(30)
        del p  # its librdkafka threads would reconnect after the broker stops
        for g in range(args.groups):
            c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": f"group-{g:03d}",
                             "enable.auto.commit": False})
            c.commit(offsets=[ck.TopicPartition(f"topic-{g % args.topics:04d}", 0, 0)], asynchronous=False)
            c.close()
        pages = [] if args.skip_pages else [("overview", "/"), ("topic_list", "/topics"), ("group_list", "/groups"),
                           ("topic_page", "/topics/topic-0000"),
                           ("messages_100", "/topics/topic-0000/messages?partition=0&limit=100"),
                           ("api_topics", "/api/v1/topics"), ("api_groups", "/api/v1/groups"),
                           ("api_messages_100", "/api/v1/topics/topic-0000/messages?partition=0&limit=100")]
        for name, path in pages:
            med, p90, size = timed(b.url + path)
            results[name] = {"median_ms": round(med, 1), "p90_ms": round(p90, 1), "bytes": size}
        results["load_average"] = [round(x, 2) for x in os.getloadavg()]
        if args.pairs > 0:
            results["produce_while_browsing"] = produce_while_browsing(
                b, args.pairs, args.produce_records, args.record_size, args.browse_interval)
    finally:
        print(json.dumps(results, indent=2), file=sys.stderr)  # kept if the rest fails
        b.stop()
    if args.skip_pages:
        print(json.dumps(results, indent=2))
        return 0

    idle = {}
    for console in (False, True):
        b = Broker(console=console)
        try:
            time.sleep(15)
            idle[console] = rss_kib(b.proc.pid)
        finally:
            b.stop()
    results["idle_rss_kib"] = {"console_off": idle[False], "console_on": idle[True],
                               "added": idle[True] - idle[False]}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The machine's own limits, to read strom's figures against (issue 9).

    python3 benches/machine.py [--dir /tmp] [--gib 2]

Prints one JSON object:
- loopback_gb_per_s: one TCP stream over 127.0.0.1 (sender and receiver in two processes,
  4 MiB sendall / recv_into), for 3 seconds;
- seq_write_gb_per_s: a --gib file written in 1 MiB writes (page cache), and
  seq_write_fdatasync_gb_per_s: the same including a final fdatasync;
- cached_read_gb_per_s: that file read back from the page cache in 1 MiB reads;
- small_append_fdatasync_ms: 1 KiB append + fdatasync, mean and p99 of 1,000.
The file goes under --dir (the disk the broker's log.dirs is on) and is removed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import tempfile
import time

MIB = 1 << 20


def _receiver(port_q, result_q) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    buf = bytearray(4 * MIB)
    view = memoryview(buf)
    total = 0
    while True:
        n = conn.recv_into(view)
        if n == 0:
            break
        total += n
    result_q.put(total)


def loopback(seconds: float = 3.0) -> float:
    port_q, result_q = multiprocessing.Queue(), multiprocessing.Queue()
    p = multiprocessing.Process(target=_receiver, args=(port_q, result_q))
    p.start()
    s = socket.create_connection(("127.0.0.1", port_q.get()))
    data = memoryview(bytes(4 * MIB))
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        s.sendall(data)
    s.close()
    total = result_q.get()
    elapsed = time.perf_counter() - t0
    p.join()
    return total / elapsed / 1e9


def disk(directory: str, gib: float) -> dict:
    fd, path = tempfile.mkstemp(prefix="strom-machine-", dir=directory)
    try:
        chunk = os.urandom(MIB)
        n = int(gib * 1024)
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, chunk)
        written = time.perf_counter() - t0
        os.fdatasync(fd)
        synced = time.perf_counter() - t0
        buf = bytearray(MIB)
        with open(path, "rb", buffering=0) as f:
            t0 = time.perf_counter()
            while f.readinto(buf):
                pass
            read = time.perf_counter() - t0
        small = bytes(1024)
        lat = []
        for _ in range(1000):
            t0 = time.perf_counter()
            os.write(fd, small)
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t0)
        lat.sort()
        size = n * MIB
        return {
            "seq_write_gb_per_s": round(size / written / 1e9, 2),
            "seq_write_fdatasync_gb_per_s": round(size / synced / 1e9, 2),
            "cached_read_gb_per_s": round(size / read / 1e9, 2),
            "small_append_fdatasync_ms": {"mean": round(sum(lat) / len(lat) * 1e3, 3),
                                          "p99": round(lat[int(len(lat) * 0.99)] * 1e3, 3)},
        }
    finally:
        os.close(fd)
        os.unlink(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--gib", type=float, default=2.0)
    args = p.parse_args()
    out = {"loadavg": open("/proc/loadavg").read().split()[:3], "nproc": os.cpu_count(),
           "loopback_gb_per_s": round(loopback(), 2)}
    out.update(disk(args.dir, args.gib))
    print(json.dumps(out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The machine's own limits, to read strom's figures against (issues 9 and 18).

    python3 benches/machine.py [--dir /tmp] [--gib 2] [--floor-gib 1] [--only floors]

Prints one JSON object:
- loopback_gb_per_s: one TCP stream over 127.0.0.1 (sender and receiver in two processes,
  4 MiB sendall / recv_into), for 3 seconds;
- seq_write_gb_per_s: a --gib file written in 1 MiB writes (page cache), and
  seq_write_fdatasync_gb_per_s: the same including a final fdatasync;
- cached_read_gb_per_s: that file read back from the page cache in 1 MiB reads;
- small_append_fdatasync_ms: 1 KiB append + fdatasync, mean and p99 of 1,000;
- ingest_floor: a minimal broker's ingest, --floor-gib received over one loopback TCP
  connection (1 MiB recv_into with MSG_WAITALL) and pwrite-n to a new file under --dir, as a
  log append does (page cache, no fsync): the receiving process's CPU (user + system, from
  getrusage) per GB (10^9 bytes), and its rate;
- serving_floor: a minimal broker's zero-copy fetch, a --floor-gib file already in the page
  cache sendfile-d in 1 MiB calls to one loopback TCP connection: the sending process's CPU
  per GB, and its rate (the receiving process's CPU is given beside it, as the consumer's).
Both floors are Python, but at 1 MiB per call the interpreter runs ~1,000 iterations per GiB:
their CPU is the kernel's copies (the sender's share of loopback TCP included, as for a
broker), which is what strom's CPU per GB (`strom perf --broker-pid`) is read against.
The files go under --dir (the disk the broker's log.dirs is on) and are removed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
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


GB = 1e9


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _ingest_receiver(port_q, result_q, path: str) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    buf = bytearray(MIB)
    view = memoryview(buf)
    total = 0
    cpu0, t0 = _cpu_s(), time.perf_counter()
    while True:
        n = conn.recv_into(view, MIB, socket.MSG_WAITALL)
        if n == 0:
            break
        os.pwrite(fd, view[:n], total)
        total += n
    elapsed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    os.close(fd)
    result_q.put((total, elapsed, cpu))


def ingest_floor(directory: str, gib: float) -> dict:
    """Receive over loopback TCP and pwrite to a file: the receiver's CPU per GB."""
    fd, path = tempfile.mkstemp(prefix="strom-ingest-floor-", dir=directory)
    os.close(fd)
    try:
        port_q, result_q = multiprocessing.Queue(), multiprocessing.Queue()
        p = multiprocessing.Process(target=_ingest_receiver, args=(port_q, result_q, path))
        p.start()
        s = socket.create_connection(("127.0.0.1", port_q.get()))
        data = memoryview(os.urandom(MIB))
        for _ in range(int(gib * 1024)):
            s.sendall(data)
        s.close()
        total, elapsed, cpu = result_q.get()
        p.join()
        return {"bytes": total, "gb_per_s": round(total / elapsed / GB, 2),
                "cpu_s": round(cpu, 3), "cpu_s_per_gb": round(cpu / (total / GB), 3)}
    finally:
        os.unlink(path)


def _serving_receiver(port_q, result_q) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port_q.put(srv.getsockname()[1])
    conn, _ = srv.accept()
    view = memoryview(bytearray(MIB))
    total = 0
    cpu0 = _cpu_s()
    while True:
        n = conn.recv_into(view)
        if n == 0:
            break
        total += n
    result_q.put((total, _cpu_s() - cpu0))


def serving_floor(directory: str, gib: float) -> dict:
    """sendfile a page-cached file to a loopback TCP socket: the sender's CPU per GB."""
    fd, path = tempfile.mkstemp(prefix="strom-serving-floor-", dir=directory)
    try:
        chunk = os.urandom(MIB)
        size = int(gib * 1024) * MIB
        for _ in range(size // MIB):
            os.write(fd, chunk)
        # Read it once, so it is all in the page cache.
        buf = bytearray(MIB)
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
        port_q, result_q = multiprocessing.Queue(), multiprocessing.Queue()
        p = multiprocessing.Process(target=_serving_receiver, args=(port_q, result_q))
        p.start()
        s = socket.create_connection(("127.0.0.1", port_q.get()))
        cpu0, t0 = _cpu_s(), time.perf_counter()
        offset = 0
        while offset < size:
            offset += os.sendfile(s.fileno(), fd, offset, min(MIB, size - offset))
        s.close()
        elapsed, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
        total, receiver_cpu = result_q.get()
        p.join()
        assert total == size, (total, size)
        return {"bytes": size, "gb_per_s": round(size / elapsed / GB, 2),
                "cpu_s": round(cpu, 3), "cpu_s_per_gb": round(cpu / (size / GB), 3),
                "receiver_cpu_s_per_gb": round(receiver_cpu / (size / GB), 3)}
    finally:
        os.close(fd)
        os.unlink(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default=tempfile.gettempdir())
    p.add_argument("--gib", type=float, default=2.0)
    p.add_argument("--floor-gib", type=float, default=1.0,
                   help="bytes moved by each floor measurement (default 1 GiB)")
    p.add_argument("--only", choices=["floors"], help="measure only the two floors")
    args = p.parse_args()
    out = {"loadavg": open("/proc/loadavg").read().split()[:3], "nproc": os.cpu_count()}
    if args.only is None:
        out["loopback_gb_per_s"] = round(loopback(), 2)
        out.update(disk(args.dir, args.gib))
    out["ingest_floor"] = ingest_floor(args.dir, args.floor_gib)
    out["serving_floor"] = serving_floor(args.dir, args.floor_gib)
    print(json.dumps(out))


if __name__ == "__main__":
    main()

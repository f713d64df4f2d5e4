"""Process and log-dir metrics on /metrics: Prometheus' standard `process_*`
names with the broker's real figures (compared with /proc of its pid),
`strom_build_info{version}`, `strom_uptime_seconds`, and per log dir its
volume's used/free/total bytes (compared with os.statvfs) and offline flag."""

from __future__ import annotations

import os
import time

from test_metrics import get, parse, sample


def scrape(broker) -> dict:
    status, text, _ = get(broker.metrics_url + "/metrics")
    assert status == 200
    return parse(text)


def test_process_metrics_match_proc(broker):
    s = scrape(broker)
    pid = broker.proc.pid
    with open(f"/proc/{pid}/statm") as f:
        rss_pages = int(f.read().split()[1])
    rss = rss_pages * os.sysconf("SC_PAGE_SIZE")
    got = sample(s, "process_resident_memory_bytes")
    assert got is not None and 0.5 * rss < got < 2 * rss, (got, rss)
    assert sample(s, "process_virtual_memory_bytes") >= got
    open_fds = len(os.listdir(f"/proc/{pid}/fd"))
    assert abs(sample(s, "process_open_fds") - open_fds) <= 8
    import resource

    soft = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
    assert sample(s, "process_max_fds") == soft
    cpu = sample(s, "process_cpu_seconds_total")
    assert cpu is not None and cpu >= 0
    start = sample(s, "process_start_time_seconds")
    assert abs(start - (time.time() - sample(s, "strom_uptime_seconds"))) < 5
    assert time.time() - 300 < start <= time.time()
    versions = [dict(k[1]) for k in s if k[0] == "strom_build_info"]
    assert len(versions) == 1 and versions[0]["version"], versions
    assert sample(s, "strom_build_info", version=versions[0]["version"]) == 1
    u1 = sample(s, "strom_uptime_seconds")
    time.sleep(1.1)
    assert sample(scrape(broker), "strom_uptime_seconds") >= u1 + 1


def test_log_dir_metrics_match_statvfs(broker):
    s = scrape(broker)
    d = str(broker.data_dir)
    st = os.statvfs(d)
    total = st.f_blocks * st.f_frsize
    assert sample(s, "strom_log_dir_size_bytes", log_dir=d) == total
    free = sample(s, "strom_log_dir_bytes_free", log_dir=d)
    assert abs(free - st.f_bavail * st.f_frsize) < 256 << 20
    used = sample(s, "strom_log_dir_bytes_used", log_dir=d)
    assert abs(used - (st.f_blocks - st.f_bfree) * st.f_frsize) < 256 << 20
    assert sample(s, "strom_log_dir_offline", log_dir=d) == 0

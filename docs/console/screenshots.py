#!/usr/bin/env python3
"""Takes the README's screenshots of the web console with headless chromium.

    python3 docs/console/screenshots.py

Starts target/release/strom on free ports with a temporary data dir, creates a
few topics, produces JSON records, runs a consumer group with some lag, waits for
a few samples of the charts, and saves one PNG per page into docs/console/.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "benches"))

from console import Broker, call  # noqa: E402


def main() -> int:
    import confluent_kafka as ck
    from selenium import webdriver

    b = Broker(console=True)
    try:
        token = json.loads(call("GET", b.url + "/api/v1/csrf"))["token"]
        for name, parts in [("deployment-webhooks", 3), ("security-events", 3), ("dev-events", 1)]:
            call("POST", b.url + "/api/v1/topics", {"name": name, "partitions": parts,
                                                     "configs": {"retention.ms": "604800000"}}, token)
        p = ck.Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5})
        c = ck.Consumer({"bootstrap.servers": b.bootstrap, "group.id": "deployer", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "client.id": "deployer-1"})
        c.subscribe(["deployment-webhooks"])
        for round_ in range(4):
            for i in range(60):
                n = round_ * 60 + i
                p.produce("deployment-webhooks", key=f"repo-{n % 7}".encode(),
                          value=json.dumps({"repo_name": "mundus-editor-application" if n % 3 == 0 else f"svc-{n % 7}",
                                            "ref": "refs/heads/main", "sha": f"{n:040x}"[:12], "n": n}).encode(),
                          headers=[("x-github-event", b"push")])
                p.produce("security-events", key=None, value=json.dumps({"alert": n}).encode())
            p.flush(10)
            deadline = time.time() + 5
            got = 0
            while got < 40 and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    got += 1
            c.commit(asynchronous=False)
            time.sleep(10)
        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                  "--hide-scrollbars", "--force-device-scale-factor=1"):
            opts.add_argument(a)
        import shutil
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        d = webdriver.Chrome(options=opts, service=service)
        try:
            for name, path in [("overview", "/"), ("topics", "/topics"), ("topic", "/topics/deployment-webhooks"),
                               ("messages", "/topics/deployment-webhooks/messages?partition=0&limit=12"),
                               ("groups", "/groups"), ("group", "/groups/deployer"), ("broker", "/broker")]:
                d.get(b.url + path)
                time.sleep(2.5 if name == "group" else 0.8)
                d.save_screenshot(str(HERE / f"{name}.png"))
                print("saved", name)
        finally:
            d.quit()
        c.close()
    finally:
        b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The README's quick start, run as written, so the README cannot rot.

The blocks are found by their markers in README.md: `<!-- quick-start:start -->` (the
two commands the README opens with: start the broker, run the tests) and
`<!-- quick-start:try -->` (create a topic with the built-in kafka-topics, produce and
consume with the console tools, kcat and confluent-kafka).

The start command runs verbatim (`cargo run --release -- server --config
config/server.toml`, from the repository root); the test keeps it off the machine's
ports and out of ./data through `KAFKA_*` variables, which win over the config file as
the README says: listeners on free 127.0.0.1 ports, the log dir in a temporary
directory. The second command is the test command itself (`bash tests/run.sh`, which
runs this test) and is only checked to be there.

The try block runs as one `bash -euo pipefail` script, verbatim but for one
substitution: the broker's port, `localhost:9092` -> `localhost:<free port>` (the tools
take no bootstrap address from the environment). It runs from the repository root, as
the README says; its links land in `target/bin`, inside the build's own directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, STROM, api_versions, free_port, kcat_path, need_module, wait_until

README = REPO / "README.md"
START_MARKER = "<!-- quick-start:start"
TRY_MARKER = "<!-- quick-start:try"
START_COMMAND = "cargo run --release -- server --config config/server.toml"
TEST_COMMAND = "bash tests/run.sh"
# cargo only checks that target/release/strom is fresh (tests/run.sh built it).
START_TIMEOUT = 300.0
TRY_TIMEOUT = 120.0

pytestmark = pytest.mark.timeout(600)


def block_after(text: str, marker: str) -> str:
    """The body of the first ```sh fence after `marker`."""
    at = text.find(marker)
    assert at >= 0, f"README.md has no {marker} marker"
    m = re.compile(r"^```sh\n(.*?)^```$", re.S | re.M).search(text, at)
    assert m, f"no ```sh block after {marker}"
    return m.group(1)


def commands(block: str) -> list[str]:
    """The block's commands: comment lines and blank lines dropped."""
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    # The quick start is the first section, and its first block is the start marker's.
    first_section = text.index("\n## ")
    assert text[first_section:].startswith("\n## Quick start"), text[first_section:first_section + 40]
    assert text.index(START_MARKER) < text.index("```"), "the start block must be the README's first code block"
    assert commands(block_after(text, START_MARKER)) == [START_COMMAND, TEST_COMMAND]


@pytest.fixture
def readme_broker():
    """The README's start command, verbatim, on free 127.0.0.1 ports and a temporary log dir."""
    if shutil.which("cargo") is None:
        pytest.fail("cargo is not on PATH: the README's start command needs it", pytrace=False)
    assert STROM.exists(), f"{STROM} missing: run `cargo build --release` (tests/run.sh does)"
    tmp = Path(tempfile.mkdtemp(prefix="strom-readme-"))
    port, internal, metrics, console = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env.update({
        "KAFKA_LISTENERS": f"EXTERNAL://127.0.0.1:{port},INTERNAL://127.0.0.1:{internal}",
        "KAFKA_ADVERTISED_LISTENERS": f"EXTERNAL://localhost:{port},INTERNAL://localhost:{internal}",
        "KAFKA_LOG_DIRS": str(tmp / "kafka-logs"),
        "KAFKA_METRICS_LISTENER": f"127.0.0.1:{metrics}",
        "KAFKA_CONSOLE_LISTENER": f"127.0.0.1:{console}",
        "NO_COLOR": "1",
    })
    log_path = tmp / "broker.log"
    cmd = block_after(README.read_text(), START_MARKER)
    start = commands(cmd)[0]
    assert start == START_COMMAND
    with open(log_path, "wb") as log:
        # `cargo run` execs the binary, so the process is the broker (SIGTERM reaches it).
        proc = subprocess.Popen(["bash", "-c", f"exec {start}"], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def ready():
        assert proc.poll() is None, f"broker exited {proc.returncode}:\n{log_path.read_text(errors='replace')[-3000:]}"
        return api_versions("127.0.0.1", port, timeout=2.0)["error_code"] == 0

    try:
        wait_until(ready, START_TIMEOUT, "the README's broker to answer ApiVersions", interval=0.5)
        yield port, tmp, log_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def test_quick_start_runs_as_written(readme_broker):
    port, tmp, log_path = readme_broker
    kcat_path()
    need_module("confluent_kafka")
    script = block_after(README.read_text(), TRY_MARKER)
    assert "localhost:9092" in script
    script = script.replace("localhost:9092", f"localhost:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env, capture_output=True,
                       timeout=TRY_TIMEOUT)
    out, err = r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    assert r.returncode == 0, f"quick start exited {r.returncode} after {time.monotonic() - t0:.0f}s\n" \
                              f"stdout:\n{out}\nstderr:\n{err}\nbroker:\n{log_path.read_text(errors='replace')[-3000:]}"
    lines = out.splitlines()
    # kafka-topics --create
    assert lines[0] == "Created topic demo.", lines
    # kafka-console-consumer --max-messages 1 --property print.key=true
    assert lines[1] == "k1\thello", lines
    assert "Processed a total of 1 messages" in err, err
    # kcat -C -e: both records, each at offset 0 or 1 of its partition.
    kcat_lines = sorted(lines[2:4])
    assert [re.sub(r" @\d/\d$", "", l) for l in kcat_lines] == ["k1 hello", "k2 from kcat"], lines
    assert all(re.search(r" @[0-2]/[01]$", l) for l in kcat_lines), kcat_lines
    # confluent-kafka: all three records, sorted by key.
    assert lines[4:] == ["k1 hello", "k2 from kcat", "k3 from confluent-kafka"], lines
    # The tool links went where the block said (target/ is the build's, ignored by git).
    assert (REPO / "target" / "bin" / "kafka-topics").resolve() == STROM.resolve()

#!/usr/bin/env bash
# strom's test command: installs what the tests need, builds, runs the unit tests
# (cargo test), the integration tests (pytest driving the real binary with
# kcat, confluent-kafka, kafka-python, sarama, ...) and a full-mode subset of
# librdkafka's regression suite (tests/librdkafka/run-suite.sh), plaintext and
# a slice over SASL_SSL and SSL.
#
#   bash tests/run.sh              everything
#   bash tests/run.sh -k listeners extra arguments go to pytest
#
# With CI=true a missing tool fails the run instead of skipping tests.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONDONTWRITEBYTECODE=1

section() { printf '\n======== %s ========\n' "$*"; }
trap 'rc=$?; section "FAILED (exit $rc): $BASH_COMMAND"' ERR

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

section "system packages (kcat, zookeeper, prometheus, Go + sarama, librdkafka build deps)"
# golang-go + golang-github-shopify-sarama-dev: tests/test_go_client.py (sarama 1.22.1).
# The rest builds librdkafka 2.0.2 from Debian's source package (below) with
# SSL and SASL: build-essential, the -dev libraries, dpkg-dev for `apt-get source`.
pkgs=(kcat zookeeper prometheus golang-go golang-github-shopify-sarama-dev
    build-essential libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev python3 dpkg-dev openssl
    chromium chromium-driver)
missing=()
# build-essential also brings g++ for libFuzzer (tests/fuzz.sh, through cargo-fuzz).
# chromium + chromium-driver: tests/test_console.py drives the web console in a real browser.
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# `apt-get source librdkafka` needs a deb-src line: mirror the bookworm deb line.
deb_src=/etc/apt/sources.list.d/strom-deb-src.sources
need_update=0
if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "adding $deb_src (deb-src for bookworm, for apt-get source librdkafka)"
    printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm bookworm-updates' \
        'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | $SUDO tee "$deb_src" >/dev/null
    need_update=1
fi
if [ "${#missing[@]}" -gt 0 ] || [ "$need_update" = 1 ]; then
    $SUDO apt-get update
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
else
    echo "all system packages already installed"
fi
kcat -V 2>&1 | head -n 1 || true
go version

section "librdkafka 2.0.2 from Debian's source package (cached outside the clone)"
# Built once per machine (tests/librdkafka/run-suite.sh keeps a stamp), so a
# fresh clone of the repository reuses it.
rdk_cache="${STROM_LIBRDKAFKA_CACHE:-$HOME/.cache/strom/librdkafka}"
rdk_src=$rdk_cache/librdkafka-2.0.2
if [ ! -d "$rdk_src" ]; then
    mkdir -p "$rdk_cache"
    (cd "$rdk_cache" && apt-get source librdkafka=2.0.2-1)
else
    echo "already unpacked: $rdk_src"
fi

section "python clients (tests/requirements.txt)"
python3 --version
if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "pip missing for python3: installing python3-pip"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends python3-pip
fi
pip_log=$(mktemp)
if ! python3 -m pip install -q -r tests/requirements.txt >"$pip_log" 2>&1; then
    if grep -q externally-managed-environment "$pip_log"; then
        # Debian's own python3 refuses pip installs without this flag.
        python3 -m pip install -q --break-system-packages -r tests/requirements.txt
    else
        cat "$pip_log"
        rm -f "$pip_log"
        exit 1
    fi
fi
rm -f "$pip_log"
python3 - <<'PY'
import confluent_kafka, kafka, pytest
v = confluent_kafka.version(); v = v[0] if isinstance(v, tuple) else v
print("confluent-kafka", v, "(librdkafka", confluent_kafka.libversion()[0] + ")")
print("kafka-python", kafka.__version__)
print("pytest", pytest.__version__)
PY

section "docker engine (tests/test_docker.py: image and compose stack)"
if docker info --format 'Docker engine {{.ServerVersion}}' 2>/dev/null; then
    docker compose version 2>/dev/null || docker-compose version --short 2>/dev/null || echo "no Docker Compose"
elif [[ "${CI:-}" =~ ^(1|true|yes)$ ]]; then
    echo "no Docker engine: CI=true, so tests/test_docker.py fails"
else
    echo "no Docker engine: tests/test_docker.py is skipped"
fi

section "cargo build --release"
cargo build --release

failed=()

section "unit tests: cargo test --release"
if ! cargo test --release; then
    failed+=("cargo test")
fi

section "fuzz smoke: bash tests/fuzz.sh (every target for \${FUZZ_SECONDS:-30} s)"
# The long runs are `FUZZ_SECONDS=N bash tests/fuzz.sh [target …]` (README, Tests).
if ! FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash tests/fuzz.sh; then
    failed+=("fuzz")
fi

section "integration tests: pytest tests/"
set +e
python3 -m pytest tests/ -v -p no:cacheprovider "$@"
rc=$?
set -e
# Exit code 5 means pytest collected no test: that is a failure here too.
if [ "$rc" -ne 0 ]; then
    failed+=("pytest (exit $rc)")
fi

section "librdkafka regression suite: single-broker subset, full mode (Debian's 2.0.2)"
# Built once with SSL and SASL (tests/librdkafka/run-suite.sh keeps a stamp);
# the subset is named in run-suite.sh (SUBSET) and takes about 6 minutes.
if ! bash tests/librdkafka/run-suite.sh "$rdk_src" --subset; then
    failed+=("librdkafka subset")
fi

section "librdkafka regression suite: security slice over SASL_SSL (SCRAM-SHA-512) and SSL"
# 0097-ssl_verify, 0135-sasl_credentials and a few produce/consume tests over
# each protocol, about 2 minutes; the whole security subset is
# `run-suite.sh SRC --security` (README, Tests).
if ! bash tests/librdkafka/run-suite.sh "$rdk_src" --security-slice; then
    failed+=("librdkafka security slice")
fi

if [ "${#failed[@]}" -gt 0 ]; then
    section "FAILED: ${failed[*]}"
    exit 1
fi

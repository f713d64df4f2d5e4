#!/usr/bin/env bash
# Runs librdkafka's own regression suite (tests/ of its source) against a
# strom broker started here, the way other Kafka-compatible brokers do.
#
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR                 every test
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR 0001 0030 ...   these tests
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR --subset        the named subset below
#   TESTS="0001 0030" bash tests/librdkafka/run-suite.sh SOURCE_DIR
#
# Full mode by default: every sub-test runs its body. QUICK=1 passes -Q to
# test-runner, which skips the body of every sub-test not marked quick (so a
# pass there says little). TEST_TIMEOUT (seconds, default 300) bounds each test.
#
# The librdkafka source is built OUTSIDE the repository's tracked files
# (nothing of it is ever committed): a release checkout of
# confluentinc/librdkafka, or Debian's `apt-get source librdkafka` (2.0.2)
# which tests/run.sh unpacks under ~/.cache/strom/librdkafka. It is built once, with
# SSL and SASL (Cyrus and SCRAM/OAUTHBEARER) so the security tests can use the
# same build, zstd and lz4; a stamp file keeps reruns fast. The script starts
# `target/release/strom` on a free loopback port with auto-create on and 4
# partitions (the suite's trivup defaults), runs each broker test on its own
# with TEST_KAFKA_VERSION=3.5.0, and compares the failures with
# KNOWN_FAILURES. Exit status: 0 when every failure is a known one.
set -euo pipefail

src=${1:?usage: run-suite.sh LIBRDKAFKA_SOURCE_DIR [--subset | TESTS...]}
shift
src=$(cd "$src" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
strom="$repo/target/release/strom"
[ -x "$strom" ] || (cd "$repo" && cargo build --release)

# The single-broker subset tests/run.sh runs in full mode on Debian's 2.0.2
# (about 6 minutes on 2 busy cores), by area:
#   produce     0001 0002 0003 0005 0007 0008 0011 0013 0017 0021 0036 0039 0048 0070 0073 0085 0086 0090 0110
#   consume     0012 0014 0015 0022 0029 0040 0042 0053 0057 0059 0060 0067 0082 0083 0092 0107 0112
#   groups      0019 0050 0051 0056 0089 0102 0118
#   offsets     0030 0031 0034 0054 0063 0099
#   admin/meta  0028 0035 0044
# Left out for time (they pass, 15-30 s each): 0018 0020 0038 0041 0069 0084
# 0093 0114; 0113 (cooperative rebalancing) takes over 5 minutes in full mode
# and runs in the long command.
SUBSET="0001 0002 0003 0005 0007 0008 0011 0012 0013 0014 0015 0017 0019 0021 0022 0028 0029
 0030 0031 0034 0035 0036 0039 0040 0042 0044 0048 0050 0051 0053 0054 0056 0057 0059 0060 0063
 0067 0070 0073 0082 0083 0085 0086 0089 0090 0092 0099 0102 0107 0110 0112 0118"

# Failures that are not the broker's to fix (or are out of scope for now):
#  0052 0077 0109 0115 0119  need KAFKA_PATH: they run Kafka's own shell tools
#  0081                      CreateAcls: ACLs need an authorizer (SASL/ACL issue)
#  0103 0129                 transactions (not implemented yet)
#  0055 0061                 their transactional sub-tests (init_transactions times out)
KNOWN_FAILURES="0052 0055 0061 0077 0081 0103 0109 0115 0119 0129"

stamp="$src/.strom-build-stamp"
if [ ! -f "$stamp" ] || [ ! -x "$src/tests/test-runner" ]; then
    (cd "$src" && ./configure --enable-ssl --enable-gssapi --enable-zstd --enable-lz4-ext --disable-curl &&
        make -j"$(nproc)" libs)
    make -C "$src/tests" -j"$(nproc)" test-runner
    touch "$stamp"
fi
export LD_LIBRARY_PATH="$src/src:$src/src-cpp"

work=$(mktemp -d /tmp/strom-librdkafka-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
"$strom" server --override log.dirs="$work/logs" \
    --override listeners=PLAINTEXT://127.0.0.1:$port \
    --override advertised.listeners=PLAINTEXT://127.0.0.1:$port \
    --override metrics.listener=127.0.0.1:"$(free_port)" \
    --override auto.create.topics.enable=true --override num.partitions=4 \
    >"$work/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
kill -0 $broker 2>/dev/null || { echo "strom did not start:"; tail -n 20 "$work/broker.log"; exit 1; }
printf 'bootstrap.servers=127.0.0.1:%s\nbroker.address.family=v4\n' "$port" >"$work/test.conf"

cd "$src/tests"
tests=("$@")
if [ "${tests[*]:-}" = "--subset" ]; then
    read -r -d '' -a tests <<<"$SUBSET" || true
elif [ ${#tests[@]} -eq 0 ] && [ -n "${TESTS:-}" ]; then
    read -r -a tests <<<"${TESTS//,/ }"
fi
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls 0*.c 0*.cpp | sed -E 's/^([0-9]{4}).*/\1/' | sort -u)
mode=()
[ "${QUICK:-0}" = 1 ] && mode=(-Q)
echo "librdkafka $(basename "$src"), ${#tests[@]} tests, mode: ${mode[*]:-full}, broker 127.0.0.1:$port"
start=$SECONDS
passed=0 failed=0 unexpected=()
for t in "${tests[@]}"; do
    t0=$SECONDS
    # (the subshell keeps bash's "Aborted" notices out of the report)
    if (RDKAFKA_TEST_CONF="$work/test.conf" TEST_KAFKA_VERSION=3.5.0 TESTS=$t \
        timeout "${TEST_TIMEOUT:-300}" ./test-runner "${mode[@]}" >"$work/$t.log" 2>&1; exit $?) 2>/dev/null; then
        passed=$((passed + 1)); echo "PASS $t ($((SECONDS - t0))s)"
    else
        failed=$((failed + 1))
        if [[ " $KNOWN_FAILURES " == *" $t "* ]]; then
            echo "FAIL $t (known, $((SECONDS - t0))s)"
        else
            echo "FAIL $t ($((SECONDS - t0))s)"; unexpected+=("$t")
            sed 's/\x1b\[[0-9;]*m//g' "$work/$t.log" | grep -A1 '^### Test' | head -n 4 | sed 's/^/    /' || true
        fi
    fi
done
echo "logs in $work"
echo "$passed passed, $failed failed in $((SECONDS - start))s"
[ ${#unexpected[@]} -eq 0 ] || { echo "unexpected failures: ${unexpected[*]}"; exit 1; }

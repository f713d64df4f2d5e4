#!/usr/bin/env bash
# Runs librdkafka's own regression suite (tests/ of its source) against a
# strom broker started here, the way other Kafka-compatible brokers do.
#
#   bash tests/librdkafka/run-suite.sh /path/to/librdkafka-source [TEST-NUMBERS...]
#
# The librdkafka source is built OUTSIDE this repository (nothing of it is
# ever committed): a checkout of confluentinc/librdkafka at a release tag, or
# Debian's `apt-get source librdkafka` (2.0.2). The script builds the library
# and tests/test-runner if needed, starts `target/release/strom` on a free
# loopback port with auto-create on and 4 partitions (the suite's trivup
# defaults), runs each broker test with a time limit, and compares the
# failures with KNOWN_FAILURES below. Exit status: 0 when every failure is a
# known one.
set -euo pipefail

src=${1:?usage: run-suite.sh LIBRDKAFKA_SOURCE_DIR [TESTS...]}
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
strom="$repo/target/release/strom"
[ -x "$strom" ] || (cd "$repo" && cargo build --release)

# Failures that are not the broker's to fix (or are out of scope for now):
#  0052 0077 0109 0115 0119  need KAFKA_PATH: they run Kafka's own shell tools
#  0064                      needs librdkafka built with OpenSSL
#  0081                      CreateAcls: ACLs need an authorizer (SASL/ACL issue)
#  0103 0129                 transactions (not implemented yet)
KNOWN_FAILURES="0052 0064 0077 0081 0103 0109 0115 0119 0129"

if [ ! -x "$src/tests/test-runner" ]; then
    (cd "$src" && ./configure --disable-ssl --disable-gssapi --disable-curl --disable-zstd && make -j"$(nproc)" libs)
    make -C "$src/tests" -j"$(nproc)" test-runner
fi
export LD_LIBRARY_PATH="$src/src:$src/src-cpp"

work=$(mktemp -d /tmp/strom-librdkafka-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$strom" server --override log.dirs="$work/logs" \
    --override listeners=PLAINTEXT://127.0.0.1:$port \
    --override advertised.listeners=PLAINTEXT://127.0.0.1:$port \
    --override auto.create.topics.enable=true --override num.partitions=4 \
    >"$work/broker.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
printf 'bootstrap.servers=127.0.0.1:%s\nbroker.address.family=v4\n' "$port" >"$work/test.conf"

cd "$src/tests"
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(ls 0*.c 0*.cpp | sed -E 's/^([0-9]{4}).*/\1/' | sort -u)
passed=0 failed=0 unexpected=()
for t in "${tests[@]}"; do
    if RDKAFKA_TEST_CONF="$work/test.conf" TEST_KAFKA_VERSION=3.5.0 TESTS=$t \
        timeout 300 ./test-runner -Q >"$work/$t.log" 2>&1; then
        passed=$((passed + 1)); echo "PASS $t"
    else
        failed=$((failed + 1))
        if [[ " $KNOWN_FAILURES " == *" $t "* ]]; then echo "FAIL $t (known)"; else echo "FAIL $t"; unexpected+=("$t"); fi
    fi
done
echo "logs in $work"
echo "$passed passed, $failed failed"
[ ${#unexpected[@]} -eq 0 ] || { echo "unexpected failures: ${unexpected[*]}"; exit 1; }

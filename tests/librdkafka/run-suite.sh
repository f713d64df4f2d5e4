#!/usr/bin/env bash
# Runs librdkafka's own regression suite (tests/ of its source) against a
# strom broker started here, the way other Kafka-compatible brokers do.
#
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR                 every test
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR 0001 0030 ...   these tests
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR --subset        the named subset below
#   TESTS="0001 0030" bash tests/librdkafka/run-suite.sh SOURCE_DIR
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR --security       the security subset, over
#                                                                 SASL_SSL (SCRAM-SHA-512), then SSL
#   bash tests/librdkafka/run-suite.sh SOURCE_DIR --security-slice its short slice (tests/run.sh)
#   SECURITY=sasl_ssl bash tests/librdkafka/run-suite.sh SOURCE_DIR 0097 0135   these, over one protocol
#
# Security mode (--security, --security-slice, or SECURITY=sasl_ssl|ssl):
# the broker gets a SASL_SSL listener (SCRAM-SHA-512, user `testuser`) and
# an SSL listener (client certificates required), certificates made here with
# openssl (a CA, the broker's, and the client's as PEM, DER and PKCS#12), and
# the ACL authorizer with the two test principals as super users (so the
# suite's ACL tests have an authorizer). test.conf then carries
# security.protocol, sasl.* and ssl.* as trivup writes them, and the SSL_*
# variables trivup exports are set for 0097-ssl_verify.
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
strom=${STROM:-$repo/target/release/strom}
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

# The security subset: the suite's own security tests that a single broker
# can run (0097-ssl_verify: certificate verification callbacks and every way
# of loading keys and CAs; 0135-sasl_credentials: rd_kafka_sasl_set_credentials
# after a failed login; 0004-conf, 0133-ssl_keys, 0134-ssl_provider and
# 0124-openssl_invalid_engine: the client's own SSL configuration, broker-less)
# and a cross-section of the subset above through the secured connection
# (produce, consume, groups, offsets, admin with ACLs).
# Not here: 0126 0128 (OAUTHBEARER: strom serves PLAIN and SCRAM), GSSAPI
# (Kerberos), 0049's GSSAPI branch.
SECURITY_SUBSET="0004 0097 0124 0133 0134 0135 0001 0002 0003 0005 0011 0012 0013 0014 0015 0017
 0019 0021 0022 0030 0031 0034 0036 0040 0044 0048 0050 0053 0056 0063 0081 0089 0092 0099"
# The slice tests/run.sh runs, both protocols in about 2 minutes.
SECURITY_SLICE="0097 0135 0001 0012 0013 0022 0031 0063"

# Known failures in security mode, beyond KNOWN_FAILURES (0081 stays there
# with another reason: with the authorizer its CreateAcls, DescribeAcls and
# DeleteAcls sub-tests pass, and it fails later, at do_test_AlterConfigs,
# which alters a BROKER resource: strom refuses dynamic broker configs).
KNOWN_FAILURES_SECURITY=""

stamp="$src/.strom-build-stamp"
if [ ! -f "$stamp" ] || [ ! -x "$src/tests/test-runner" ]; then
    (cd "$src" && ./configure --enable-ssl --enable-gssapi --enable-zstd --enable-lz4-ext --disable-curl &&
        make -j"$(nproc)" libs)
    make -C "$src/tests" -j"$(nproc)" test-runner
    touch "$stamp"
fi
export LD_LIBRARY_PATH="$src/src:$src/src-cpp"

work=$(mktemp -d /tmp/strom-librdkafka-XXXXXX)
# A free port below the kernel's range for outgoing connections (32768-60999), never one this run
# handed out before (kept in $work/ports: callers run this in a subshell), so no two listeners
# share one and a restart finds its ports free.
free_port() {
    local port _
    for _ in $(seq 1000); do
        port=$((20000 + RANDOM % 12768))
        grep -qx "$port" "$work/ports" 2>/dev/null && continue
        python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null || continue
        echo "$port" >>"$work/ports"
        echo "$port"
        return
    done
    echo "no free port in 20000-32767 after 1000 tries" >&2
    return 1
}

tests=("$@")
security=${SECURITY:-}
case "${tests[*]:-}" in
    --subset) read -r -d '' -a tests <<<"$SUBSET" || true ;;
    --security) read -r -d '' -a tests <<<"$SECURITY_SUBSET" || true; security=${security:-sasl_ssl,ssl} ;;
    --security-slice) read -r -d '' -a tests <<<"$SECURITY_SLICE" || true; security=${security:-sasl_ssl,ssl} ;;
esac
if [ ${#tests[@]} -eq 0 ] && [ -n "${TESTS:-}" ]; then
    read -r -a tests <<<"${TESTS//,/ }"
fi
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(cd "$src/tests" && ls 0*.c 0*.cpp |
    sed -E 's/^([0-9]{4}).*/\1/' | sort -u)

# Certificates for security mode, as trivup's SslApp provides them: a CA,
# the broker's (CN=localhost, SAN localhost and 127.0.0.1) as Kafka's PEM
# keystore, and the client's with an encrypted PEM key, DER and PKCS#12.
make_certs() {
    local d=$1 pass=$2
    mkdir -p "$d"
    (
        cd "$d"
        ossl() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $1 failed" >&2; exit 1; }; }
        ossl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=strom-suite-ca
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
        printf 'extendedKeyUsage=clientAuth\n' >client.ext
        ossl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost
        ossl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext
        cat server.key server.crt >server.pem
        ossl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /O=strom-suite/CN=librdkafka-client
        ossl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext
        ossl pkey -in client.key -aes256 -passout "pass:$pass" -out client-enc.key
        ossl pkey -in client.key -outform DER -out client.key.der
        ossl x509 -in client.crt -outform DER -out client.crt.der
        ossl x509 -in ca.pem -outform DER -out ca.der
        ossl pkcs12 -export -in client.crt -inkey client.key -certfile ca.pem -passout "pass:$pass" -out client.p12
    ) || exit 1
}

# Starts strom for `mode` (plaintext, sasl_ssl or ssl) and writes its
# test.conf, named in $conf (run in this shell: it sets $broker and exports
# the SSL_* variables).
broker="" conf=""
start_broker() {
    local mode=$1 port admin_port
    port=$(free_port)
    local listeners="PLAINTEXT://127.0.0.1:$port" advertised="PLAINTEXT://127.0.0.1:$port" extra=()
    admin_port=$port
    if [ "$mode" != plaintext ]; then
        local certs="$work/certs" pass=abcdefgh sasl_port ssl_port
        [ -f "$certs/client.p12" ] || make_certs "$certs" "$pass"
        admin_port=$(free_port) sasl_port=$(free_port) ssl_port=$(free_port)
        listeners="PLAINTEXT://127.0.0.1:$admin_port,SASL_SSL://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port"
        advertised="PLAINTEXT://127.0.0.1:$admin_port,SASL_SSL://localhost:$sasl_port,SSL://localhost:$ssl_port"
        extra=(--override ssl.keystore.type=PEM --override "ssl.keystore.location=$certs/server.pem"
            --override ssl.truststore.type=PEM --override "ssl.truststore.location=$certs/ca.pem"
            --override listener.name.ssl.ssl.client.auth=required
            --override 'ssl.principal.mapping.rules=RULE:^.*CN=([^,]+).*$/$1/,DEFAULT'
            --override listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
            --override 'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;'
            --override authorizer.class.name=kafka.security.authorizer.AclAuthorizer
            --override 'super.users=User:testuser;User:librdkafka-client;User:ANONYMOUS')
        export SSL_password=$pass SSL_ca_pem="$certs/ca.pem" SSL_ca_der="$certs/ca.der"
        export SSL_all_cas_pem="$certs/ca.pem" SSL_pub_pem="$certs/client.crt" SSL_pub_der="$certs/client.crt.der"
        export SSL_priv_pem="$certs/client-enc.key" SSL_priv_der="$certs/client.key.der" SSL_pkcs="$certs/client.p12"
    fi
    "$strom" server --override log.dirs="$work/logs-$mode" \
        --override listeners="$listeners" --override advertised.listeners="$advertised" \
        --override metrics.listener=127.0.0.1:"$(free_port)" \
        --override console.listener=127.0.0.1:"$(free_port)" \
        --override auto.create.topics.enable=true --override num.partitions=4 \
        "${extra[@]}" >"$work/broker-$mode.log" 2>&1 &
    broker=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$admin_port) 2>/dev/null && break; sleep 0.1; done
    kill -0 $broker 2>/dev/null || { echo "strom did not start:"; tail -n 20 "$work/broker-$mode.log"; exit 1; }
    conf="$work/test-$mode.conf"
    case $mode in
        plaintext)
            printf 'bootstrap.servers=127.0.0.1:%s\nbroker.address.family=v4\n' "$port" >"$conf" ;;
        sasl_ssl|ssl)
            "$strom" configs --bootstrap-server "127.0.0.1:$admin_port" --entity-type users --entity-name testuser \
                --alter --add-config 'SCRAM-SHA-512=[iterations=4096,password=testpass]' >/dev/null
            {
                if [ "$mode" = sasl_ssl ]; then
                    printf 'bootstrap.servers=localhost:%s\nsecurity.protocol=SASL_SSL\n' "$sasl_port"
                    printf 'sasl.mechanisms=SCRAM-SHA-512\nsasl.username=testuser\nsasl.password=testpass\n'
                else
                    printf 'bootstrap.servers=localhost:%s\nsecurity.protocol=SSL\n' "$ssl_port"
                fi
                printf 'broker.address.family=v4\nssl.ca.location=%s\n' "$certs/ca.pem"
                printf 'ssl.certificate.location=%s\nssl.key.location=%s\nssl.key.password=%s\n' \
                    "$certs/client.crt" "$certs/client-enc.key" "$pass"
            } >"$conf" ;;
        *) echo "unknown security mode '$mode' (plaintext, sasl_ssl or ssl)"; exit 2 ;;
    esac
}
stop_broker() {
    [ -n "$broker" ] || return 0
    kill "$broker" 2>/dev/null || true
    wait "$broker" 2>/dev/null || true
    broker=""
}
trap 'stop_broker' EXIT

cd "$src/tests"
mode=()
[ "${QUICK:-0}" = 1 ] && mode=(-Q)
known=" $KNOWN_FAILURES "
modes=(plaintext)
if [ -n "$security" ]; then
    IFS=, read -r -a modes <<<"$security"
    known=" $KNOWN_FAILURES $KNOWN_FAILURES_SECURITY "
fi
for m in "${modes[@]}"; do
    case $m in plaintext|sasl_ssl|ssl) ;; *) echo "unknown SECURITY mode '$m' (sasl_ssl, ssl, plaintext)"; exit 2 ;; esac
done
start=$SECONDS
passed=0 failed=0 unexpected=()
for m in "${modes[@]}"; do
    start_broker "$m"
    echo "librdkafka $(basename "$src"), ${#tests[@]} tests, mode: ${mode[*]:-full}, security.protocol: $m ($conf)"
    for t in "${tests[@]}"; do
        t0=$SECONDS
        log="$work/$m-$t.log"
        # (the subshell keeps bash's "Aborted" notices out of the report)
        if (RDKAFKA_TEST_CONF="$conf" TEST_KAFKA_VERSION=3.5.0 TESTS=$t \
            timeout "${TEST_TIMEOUT:-300}" ./test-runner "${mode[@]}" >"$log" 2>&1; exit $?) 2>/dev/null; then
            passed=$((passed + 1)); echo "PASS $m $t ($((SECONDS - t0))s)"
        else
            failed=$((failed + 1))
            if [[ "$known" == *" $t "* ]]; then
                echo "FAIL $m $t (known, $((SECONDS - t0))s)"
            else
                echo "FAIL $m $t ($((SECONDS - t0))s)"; unexpected+=("$m:$t")
                sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -A1 '^### Test' | head -n 4 | sed 's/^/    /' || true
            fi
        fi
    done
    stop_broker
done
echo "logs in $work"
echo "$passed passed, $failed failed in $((SECONDS - start))s"
[ ${#unexpected[@]} -eq 0 ] || { echo "unexpected failures: ${unexpected[*]}"; exit 1; }

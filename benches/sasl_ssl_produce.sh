#!/usr/bin/env bash
# Benchmark (not a timed test): 1 KiB acks=all produce over SASL_SSL (SCRAM-SHA-512)
# against plaintext on the same broker and run, with `strom perf produce`.
# Certificates are made here with openssl in a temporary directory.
#   bash benches/sasl_ssl_produce.sh [NUM_RECORDS]
set -euo pipefail
n=${1:-200000}
root=$(cd "$(dirname "$0")/.." && pwd)
strom="$root/target/release/strom"
d=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$d"' EXIT
cd "$d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout s.key -out s.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext -out s.crt 2>/dev/null
cat s.key s.crt > s.pem
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p1=$(free); p2=$(free)
"$strom" server --override "listeners=PLAIN://127.0.0.1:$p1,LAN://127.0.0.1:$p2" \
    --override "advertised.listeners=PLAIN://127.0.0.1:$p1,LAN://localhost:$p2" \
    --override "listener.security.protocol.map=PLAIN:PLAINTEXT,LAN:SASL_SSL" \
    --override inter.broker.listener.name=PLAIN --override "log.dirs=$d/logs" \
    --override ssl.keystore.type=PEM --override "ssl.keystore.location=$d/s.pem" \
    --override listener.name.lan.sasl.enabled.mechanisms=SCRAM-SHA-512 \
    --override metrics.listener= > broker.log 2>&1 &
pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p1) 2>/dev/null && break; sleep 0.1; done
"$strom" configs --bootstrap-server 127.0.0.1:$p1 --entity-type users --entity-name bench --alter \
    --add-config 'SCRAM-SHA-512=[iterations=4096,password=bench-pw]' >/dev/null
cat > client.properties <<PROPS
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=bench
sasl.password=bench-pw
ssl.truststore.type=PEM
ssl.truststore.location=$d/ca.pem
PROPS
run() { # label bootstrap topic [extra…]
    local label=$1 bs=$2 topic=$3; shift 3
    "$strom" perf produce --bootstrap-server "$bs" --topic "$topic" --partitions 3 --num-records "$n" \
        --record-size 1024 --throughput -1 --producer-props acks=all linger.ms=5 batch.size=1000000 \
        --json "$@" | python3 -c "import json,sys; r=json.load(sys.stdin); print('$label', round(r['records_per_sec']), 'rec/s', round(r['mb_per_sec'],1), 'MB/s')"
}
run plaintext 127.0.0.1:$p1 bench-plain
run sasl_ssl localhost:$p2 bench-tls --command-config client.properties

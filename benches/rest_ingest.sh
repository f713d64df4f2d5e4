#!/usr/bin/env bash
# REST Proxy v2 ingest with wrk beside native Kafka produce of the same
# records, against one fresh broker (not a timed test; figures go to
# docs/PERFORMANCE.md by hand).
#
#   bash benches/rest_ingest.sh [seconds-per-run]     (default 10)
#
# Each wrk request carries one 1 KiB JSON record (POST /topics/bench-rest,
# application/vnd.kafka.json.v2+json); runs at 1 and 32 connections report
# p50/p99 latency and requests/s (= records/s). `strom perf produce` then
# sends the same number of 1 KiB records over the Kafka protocol (acks=all,
# linger.ms=5) for comparison. Target: >= 20,000 records/s at 32 connections.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
STROM=target/release/strom
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)"; exit 1; }
[ -x "$STROM" ] || cargo build --release
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KP=$(free); MP=$(free); CP=$(free)
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
"$STROM" server --override log.dirs="$DIR/logs" --override listeners=PLAINTEXT://127.0.0.1:$KP \
    --override advertised.listeners=PLAINTEXT://127.0.0.1:$KP --override metrics.listener=127.0.0.1:$MP \
    --override console.listener=127.0.0.1:$CP --override ingest.requests.per.second.per.source=1000000 \
    --override auto.create.topics.enable=false >"$DIR/broker.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -sf 127.0.0.1:$MP/ready >/dev/null && break; sleep 0.1; done
CLUSTER=$(curl -s 127.0.0.1:$CP/v3/clusters | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["cluster_id"])')
python3 - "$KP" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{sys.argv[1]}"})
for f in admin.create_topics([NewTopic(t, 3, 1) for t in ("bench-rest", "bench-native")]).values():
    f.result(20)
PY
VALUE=$(python3 -c 'print("x" * 1000)')
cat >"$DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/vnd.kafka.json.v2+json"
wrk.body = '{"records":[{"value":{"v":"$VALUE"}}]}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT records/s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
LUA
for c in 1 32; do
  echo "== REST v2, 1 KiB JSON records, $c connection(s), ${SECS}s"
  wrk -t "$(( c < 2 ? 1 : 2 ))" -c "$c" -d "${SECS}s" --latency -s "$DIR/post.lua" "http://127.0.0.1:$CP/topics/bench-rest" | grep RESULT
done
N=$(python3 -c 'import sys; print(sys.argv[1])' "$(curl -s 127.0.0.1:$MP/metrics | awk '/^strom_topic_messages_in_total\{topic="bench-rest"\}/ {print $2}')")
echo "== native Kafka produce of $N records of 1 KiB (strom perf produce, acks=all)"
"$STROM" perf produce --bootstrap-server 127.0.0.1:$KP --topic bench-native --num-records "${N%.*}" \
    --record-size 1024 --throughput -1 --producer-props acks=all linger.ms=5

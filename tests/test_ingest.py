"""HTTP ingest on console.listener: Confluent REST Proxy v3 and v2 produce with
curl and Python requests as the REST Proxy's own examples do, read back with
confluent-kafka; GitHub webhooks signed right and wrong, a redelivery (exactly
one record, also after a restart), ordering by repository across partitions,
and a 10,000-request burst with every 202 present exactly once."""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import hmac
import json
import subprocess
import uuid

import pytest

from conftest import create_topic, need_module

SECRET = "It's a Secret to Everybody"


def read_all(bootstrap: str, topic: str, partitions: int, expect: int, timeout: float = 30.0) -> list:
    ck = need_module("confluent_kafka")
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"ingest-{uuid.uuid4()}",
                     "enable.auto.commit": False})
    c.assign([ck.TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    import time

    deadline = time.monotonic() + timeout
    while len(out) < expect and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert not m.error(), m.error()
        out.append(m)
    # Nothing beyond what was expected.
    extra = c.poll(1.0)
    c.close()
    assert extra is None or extra.error(), f"unexpected extra record {extra.value()!r}"
    assert len(out) == expect, f"{len(out)} of {expect} records"
    return out


def cluster_id(broker) -> str:
    requests = need_module("requests")
    r = requests.get(broker.console_url + "/v3/clusters", timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "KafkaClusterList" and len(body["data"]) == 1
    return body["data"][0]["cluster_id"]


def test_rest_v3_produce_with_curl_and_requests(broker):
    requests = need_module("requests")
    create_topic(broker.bootstrap, "rest3", partitions=3)
    cid = cluster_id(broker)
    url = f"{broker.console_url}/v3/clusters/{cid}/topics/rest3/records"
    # curl, as in the REST Proxy's documentation.
    out = subprocess.run(["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "--data",
                          '{"partition_id": 1, "key": {"type": "JSON", "data": "k1"}, '
                          '"value": {"type": "JSON", "data": {"n": 1}}}', url],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    a = json.loads(out)
    assert (a["error_code"], a["cluster_id"], a["topic_name"], a["partition_id"], a["offset"]) == (200, cid, "rest3", 1, 0)
    assert a["key"] == {"type": "JSON", "size": 4} and a["value"] == {"type": "JSON", "size": 7}
    # requests: binary key/value, headers, string.
    r = requests.post(url, json={
        "key": {"type": "BINARY", "data": base64.b64encode(b"\x00bin").decode()},
        "value": {"type": "STRING", "data": "hello"},
        "headers": [{"name": "h1", "value": base64.b64encode(b"v1").decode()}],
        "partition_id": 2,
    }, timeout=10)
    assert r.status_code == 200, r.text
    assert (r.json()["partition_id"], r.json()["offset"]) == (2, 0)
    # Streaming mode: two records in one body, one answer each.
    body = json.dumps({"value": {"data": "s1"}, "partition_id": 0}) + json.dumps({"value": {"data": "s2"}, "partition_id": 0})
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    answers = [json.loads(l) for l in r.text.splitlines()]
    assert [(x["error_code"], x["offset"]) for x in answers] == [(200, 0), (200, 1)]
    # Errors as the REST Proxy answers them.
    r = requests.post(f"{broker.console_url}/v3/clusters/{cid}/topics/nope/records", json={"value": {"data": 1}}, timeout=10)
    assert (r.status_code, r.json()["error_code"]) == (404, 404)
    r = requests.post(f"{broker.console_url}/v3/clusters/wrong/topics/rest3/records", json={"value": {"data": 1}}, timeout=10)
    assert r.status_code == 404 and r.json() == {"error_code": 404, "message": "Cluster wrong cannot be found."}
    r = requests.post(url, json={"value": {"type": "AVRO", "data": 1}}, timeout=10)
    assert (r.status_code, r.json()["error_code"]) == (400, 400)
    r = requests.post(url, json={"partition_id": 9, "value": {"data": 1}}, timeout=10)
    assert (r.status_code, r.json()["error_code"]) == (404, 404)

    got = {(m.partition(), m.offset()): m for m in read_all(broker.bootstrap, "rest3", 3, 4)}
    assert (got[(1, 0)].key(), got[(1, 0)].value()) == (b'"k1"', b'{"n":1}')
    assert (got[(2, 0)].key(), got[(2, 0)].value(), got[(2, 0)].headers()) == (b"\x00bin", b"hello", [("h1", b"v1")])
    assert [got[(0, o)].value() for o in (0, 1)] == [b'"s1"', b'"s2"']


def test_rest_v2_json_and_binary(broker):
    requests = need_module("requests")
    create_topic(broker.bootstrap, "rest2", partitions=2)
    url = f"{broker.console_url}/topics/rest2"
    r = requests.post(url, headers={"Content-Type": "application/vnd.kafka.json.v2+json"},
                      data=json.dumps({"records": [{"key": "a", "value": {"x": 1}, "partition": 0},
                                                   {"value": [1, 2]}]}), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.kafka.v2+json"
    body = r.json()
    assert body["key_schema_id"] is None and body["value_schema_id"] is None
    assert body["offsets"][0] == {"partition": 0, "offset": 0, "error_code": None, "error": None}
    out = subprocess.run(["curl", "-s", "-X", "POST", "-H", "Content-Type: application/vnd.kafka.binary.v2+json",
                          "--data", json.dumps({"records": [{"value": base64.b64encode(b"raw\x01").decode(), "partition": 1}]}),
                          url], capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(out)["offsets"][0]["partition"] == 1
    r = requests.post(f"{broker.console_url}/topics/missing", headers={"Content-Type": "application/vnd.kafka.json.v2+json"},
                      data='{"records": [{"value": 1}]}', timeout=10)
    assert r.status_code == 404 and r.json() == {"error_code": 40401, "message": "Topic not found."}
    r = requests.post(url, headers={"Content-Type": "application/vnd.kafka.json.v2+json"},
                      data='{"records": [{"value": 1, "partition": 5}]}', timeout=10)
    assert r.status_code == 404 and r.json()["error_code"] == 40402
    r = requests.post(url, headers={"Content-Type": "text/plain"}, data="x", timeout=10)
    assert r.status_code == 415
    values = sorted(m.value() for m in read_all(broker.bootstrap, "rest2", 2, 3))
    assert values == sorted([b'{"x":1}', b"[1,2]", b"raw\x01"])


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(session, broker, topic: str, payload: dict | bytes, delivery: str, event: str = "push",
            secret: str | None = SECRET):
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ": ")).encode()
    headers = {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signed(body, secret)
    return session.post(f"{broker.console_url}/webhooks/github/{topic}", data=body, headers=headers, timeout=30)


def push(repo: str, n: int) -> dict:
    return {"ref": "refs/heads/main", "after": f"{n:040x}", "repository": {"name": repo, "full_name": f"me/{repo}"},
            "sender": {"login": "octocat"}, "n": n}


def test_github_webhook_signatures_redelivery_and_restart(make_broker):
    requests = need_module("requests")
    broker = make_broker({"webhook.github.secret": SECRET})
    create_topic(broker.bootstrap, "gh", partitions=3)
    s = requests.Session()
    body = json.dumps(push("app", 1), indent=2).encode()  # not compact: byte for byte
    r = deliver(s, broker, "gh", body, "d-1")
    assert r.status_code == 202, r.text
    assert deliver(s, broker, "gh", body, "d-2", secret="wrong").status_code == 401
    assert deliver(s, broker, "gh", body, "d-3", secret=None).status_code == 401
    # Redelivery of d-1: 202, nothing written.
    r = deliver(s, broker, "gh", body, "d-1")
    assert r.status_code == 202 and r.json()["duplicate"] is True
    [m] = read_all(broker.bootstrap, "gh", 3, 1)
    assert m.value() == body and m.key() == b"app"
    assert dict(m.headers()) == {"X-GitHub-Event": b"push", "X-GitHub-Delivery": b"d-1"}
    # After a restart the delivery is still known (rebuilt from the topic).
    broker.stop()
    broker.start()
    assert deliver(s, broker, "gh", body, "d-1").json()["duplicate"] is True
    assert deliver(s, broker, "gh", body, "d-4").status_code == 202
    assert len(read_all(broker.bootstrap, "gh", 3, 2)) == 2


def test_github_deployment_event_format_and_missing_secret(make_broker):
    requests = need_module("requests")
    off = make_broker()
    create_topic(off.bootstrap, "gh", partitions=1)
    assert deliver(requests, off, "gh", push("app", 1), "x").status_code == 503
    broker = make_broker({"webhook.github.secret": SECRET, "webhook.github.format": "deployment-event"})
    create_topic(broker.bootstrap, "deploys", partitions=1)
    assert deliver(requests, broker, "deploys", push("svc", 7), "dep-1").status_code == 202
    [m] = read_all(broker.bootstrap, "deploys", 1, 1)
    e = json.loads(m.value())
    ts = e.pop("timestamp")
    assert ts.endswith("Z") and ts.startswith("20")
    assert e == {"event_type": "push", "repo_name": "svc", "repo_full_name": "me/svc", "branch": "main",
                 "commit": f"{7:040x}", "github_event": "push", "github_delivery_id": "dep-1", "triggered_by": "octocat"}
    assert m.value() == json.dumps(json.loads(m.value()), separators=(",", ":")).encode()  # compact


def test_github_ordering_by_repository_and_a_10000_burst(make_broker):
    requests = need_module("requests")
    broker = make_broker({"webhook.github.secret": SECRET, "ingest.requests.per.second.per.source": "100000"})
    create_topic(broker.bootstrap, "burst", partitions=4)
    repos = [f"repo-{i}" for i in range(8)]
    n = 10_000
    ids = [f"del-{i}" for i in range(n)]
    local = __import__("threading").local()

    def send(i: int):
        if not hasattr(local, "s"):
            local.s = requests.Session()
        repo = repos[i % len(repos)]
        r = deliver(local.s, broker, "burst", push(repo, i), ids[i])
        return i, r.status_code

    # Per repository, deliveries are sent in order from one worker each.
    def worker(repo_index: int):
        out = []
        for i in range(repo_index, n, len(repos)):
            out.append(send(i))
        return out

    with concurrent.futures.ThreadPoolExecutor(len(repos)) as pool:
        results = [r for rs in pool.map(worker, range(len(repos))) for r in rs]
    assert all(code == 202 for _, code in results), [c for _, c in results if c != 202][:5]
    # Some redeliveries in the same run: still exactly once.
    for i in range(0, n, 1000):
        assert deliver(requests, broker, "burst", push(repos[i % len(repos)], i), ids[i]).json()["duplicate"]
    msgs = read_all(broker.bootstrap, "burst", 4, n, timeout=120)
    seen = [dict(m.headers())["X-GitHub-Delivery"].decode() for m in msgs]
    assert sorted(seen) == sorted(ids)
    by_repo = {}
    for m in sorted(msgs, key=lambda m: (m.partition(), m.offset())):
        by_repo.setdefault(m.key().decode(), []).append((m.partition(), json.loads(m.value())["n"]))
    for repo, items in by_repo.items():
        assert len({p for p, _ in items}) == 1, f"{repo} spread over partitions"
        ns = [x for _, x in items]
        assert ns == sorted(ns), f"{repo} out of order"

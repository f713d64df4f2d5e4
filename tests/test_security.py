"""TLS and SASL listeners (issue 16) with real clients over real sockets:
confluent-kafka, kafka-python (SaslHandshake v0 with bare tokens), aiokafka
and kcat over SASL_SSL with SCRAM-SHA-512, SASL_PLAINTEXT with PLAIN, and SSL
with client certificates; wrong passwords, unknown users, expired
certificates, plaintext and garbage on TLS listeners, a stalled handshake;
SCRAM credentials set with kafka-configs surviving a restart and stored in
ZooKeeper in Kafka's format; certificate reload without restart.

Certificates are made at test time with openssl (never committed)."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import api_versions, free_port, kcat, missing, need_module, wait_until
from test_new_apis import run_tool

ck = need_module("confluent_kafka")

PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-pw" user_admin="admin-pw" user_alice="alice-pw";')
SCRAM_JAAS = 'org.apache.kafka.common.security.scram.ScramLoginModule required;'


def openssl(*args: str, cwd: Path) -> None:
    if not shutil.which("openssl"):
        missing("openssl (Debian package openssl)")
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d: Path) -> Path:
    """CA, server (CN=localhost, SAN localhost and 127.0.0.1), client (CN=alice), an expired client."""
    d.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=strom-test-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    # X.509 v3 with an extension: webpki refuses v1 certificates.
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subj in [("server", "/CN=localhost"), ("client", "/O=strom/OU=lab/CN=alice"),
                       ("expired", "/O=strom/OU=lab/CN=old")]:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", subj, cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.crt", "-days", "2", "-extfile", "client.ext", cwd=d)
    # An expired one: `openssl ca` takes explicit dates.
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=d\n[d]\ndir=.\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
        "default_md=sha256\npolicy=p\nx509_extensions=e\n[e]\nextendedKeyUsage=clientAuth\n[p]\ncommonName=supplied\norganizationName=optional\n"
        "organizationalUnitName=optional\n")
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired.csr",
            "-out", "expired.crt", "-notext", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", cwd=d)
    # Kafka's PEM keystore: the private key and the chain in one file.
    for name in ("server", "client", "expired"):
        (d / f"{name}.pem").write_text((d / f"{name}.key").read_text() + (d / f"{name}.crt").read_text())
    return d


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


class Secure:
    """A broker with PLAINTEXT (admin), SSL (client certificates required),
    SASL_SSL (SCRAM and PLAIN) and SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256) listeners."""

    def __init__(self, make_broker, certs: Path, extra: dict | None = None):
        b = make_broker(start=False)
        self.ssl_port, self.sasl_ssl_port, self.sasl_plain_port = free_port(), free_port(), free_port()
        p1, p2 = b.ports
        names = {"SSLL": self.ssl_port, "LAN": self.sasl_ssl_port, "SASLPLAIN": self.sasl_plain_port}
        lst = ",".join(f"{n}://127.0.0.1:{p}" for n, p in names.items())
        adv = ",".join(f"{n}://localhost:{p}" for n, p in names.items())
        b.extra_overrides.update({
            "listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://127.0.0.1:{p2},{lst}",
            "advertised.listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://localhost:{p2},{adv}",
            "listener.security.protocol.map":
                "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,SSLL:SSL,LAN:SASL_SSL,SASLPLAIN:SASL_PLAINTEXT",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(certs / "server.pem"),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certs / "ca.pem"),
            "listener.name.sslL.ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=lab.*$/$1/L,DEFAULT",
            "listener.name.lan.sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
            "listener.name.lan.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
            "listener.name.lan.plain.sasl.jaas.config": PLAIN_JAAS,
            "listener.name.saslplain.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
            "listener.name.saslplain.plain.sasl.jaas.config": PLAIN_JAAS,
            "connections.max.idle.ms": "3000",
        })
        b.extra_overrides.update(extra or {})
        b.env["STROM_LOG"] = "info,strom::network=debug,strom::security=debug"
        self.broker = b
        self.certs = certs

    def start(self) -> "Secure":
        self.broker.start()
        return self

    def ck_conf(self, kind: str, **over) -> dict:
        c = self.certs
        base = {"broker.address.family": "v4", "socket.timeout.ms": 10000}
        if kind == "scram512":
            base.update({"bootstrap.servers": f"localhost:{self.sasl_ssl_port}", "security.protocol": "SASL_SSL",
                         "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "guardian",
                         "sasl.password": "guardian-pw", "ssl.ca.location": str(c / "ca.pem")})
        elif kind == "plain":
            base.update({"bootstrap.servers": f"localhost:{self.sasl_plain_port}",
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                         "sasl.username": "alice", "sasl.password": "alice-pw"})
        elif kind == "ssl":
            base.update({"bootstrap.servers": f"localhost:{self.ssl_port}", "security.protocol": "SSL",
                         "ssl.ca.location": str(c / "ca.pem"), "ssl.certificate.location": str(c / "client.crt"),
                         "ssl.key.location": str(c / "client.key")})
        base.update(over)
        return base


def set_scram(bootstrap: str, user: str, config: str) -> str:
    return run_tool("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "users", "--entity-name",
                    user, "--alter", "--add-config", config).stdout


def describe_scram(bootstrap: str, user: str) -> str:
    return run_tool("kafka-configs", "--bootstrap-server", bootstrap, "--entity-type", "users", "--entity-name",
                    user, "--describe").stdout


def ck_round_trip(conf: dict, topic: str, n: int = 5) -> list[bytes]:
    """Produce n records with acks=all and read them back, over the given security settings."""
    p = ck.Producer({**conf, "acks": "all", "linger.ms": 0})
    errors = []
    for i in range(n):
        p.produce(topic, f"v{i}".encode(), key=b"k", partition=0,
                  on_delivery=lambda e, m: errors.append(e) if e else None)
    assert p.flush(30) == 0
    assert errors == []
    c = ck.Consumer({**conf, "group.id": f"g-{uuid.uuid4()}", "auto.offset.reset": "earliest",
                     "enable.auto.commit": False})
    c.assign([ck.TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < n and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    return got


def ck_auth_error(conf: dict) -> str:
    """The errors a confluent-kafka client reports (error_cb) for these settings."""
    errors: list[str] = []
    p = ck.Producer({**conf, "error_cb": lambda e: errors.append(str(e)), "log_level": 0})
    deadline = time.monotonic() + 10
    words = ("uthentication", "certificate", "mechanism", "SSL")
    while time.monotonic() < deadline and not any(w in e for e in errors for w in words):
        p.poll(0.2)
    return " ".join(errors)


def create_topic_plain(bootstrap: str, name: str) -> None:
    run_tool("kafka-topics", "--bootstrap-server", bootstrap, "--create", "--topic", name, "--partitions", "1")


def test_sasl_ssl_scram_sha512_with_three_clients_and_kcat_survives_restart(make_broker, certs):
    s = Secure(make_broker, certs).start()
    bs = s.broker.bootstrap
    out = set_scram(bs, "guardian", "SCRAM-SHA-512=[iterations=8192,password=guardian-pw],"
                                    "SCRAM-SHA-256=[password=guardian-pw]")
    assert out == "Completed updating config for user guardian.\n"
    assert describe_scram(bs, "guardian") == ("SCRAM credential configs for user-principal 'guardian' are "
                                              "SCRAM-SHA-256=iterations=4096, SCRAM-SHA-512=iterations=8192\n")
    create_topic_plain(bs, "sec")
    assert ck_round_trip(s.ck_conf("scram512"), "sec") == [f"v{i}".encode() for i in range(5)]
    assert "principal=User:guardian" in s.broker.log_path.read_text()

    # kafka-python: SaslHandshake v0, then bare SCRAM tokens.
    kafka = need_module("kafka")
    kp_conf = dict(bootstrap_servers=f"localhost:{s.sasl_ssl_port}", security_protocol="SASL_SSL",
                   sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="guardian",
                   sasl_plain_password="guardian-pw", ssl_cafile=str(certs / "ca.pem"))
    prod = kafka.KafkaProducer(acks="all", **kp_conf)
    prod.send("sec", b"from-kafka-python", partition=0).get(timeout=30)
    prod.close()
    cons = kafka.KafkaConsumer(auto_offset_reset="earliest", consumer_timeout_ms=5000, **kp_conf)
    cons.assign([kafka.TopicPartition("sec", 0)])
    values = [m.value for m in cons]
    cons.close()
    assert values[-1] == b"from-kafka-python" and len(values) == 6

    # aiokafka: SaslHandshake v1 + SaslAuthenticate.
    aiokafka = need_module("aiokafka")
    from aiokafka.helpers import create_ssl_context

    async def aio():
        ctx = create_ssl_context(cafile=str(certs / "ca.pem"))
        common = dict(bootstrap_servers=f"localhost:{s.sasl_ssl_port}", security_protocol="SASL_SSL",
                      sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="guardian",
                      sasl_plain_password="guardian-pw", ssl_context=ctx)
        p = aiokafka.AIOKafkaProducer(acks="all", **common)
        await p.start()
        try:
            md = await p.send_and_wait("sec", b"from-aiokafka", partition=0)
        finally:
            await p.stop()
        c = aiokafka.AIOKafkaConsumer(auto_offset_reset="earliest", **common)
        await c.start()
        try:
            c.assign([aiokafka.TopicPartition("sec", 0)])
            await c.seek_to_beginning()
            batch = await c.getmany(timeout_ms=10000, max_records=100)
            got = [r.value for recs in batch.values() for r in recs]
        finally:
            await c.stop()
        return md.offset, got

    offset, got = asyncio.run(aio())
    assert offset == 6 and b"from-aiokafka" in got

    # kcat with -X security settings.
    r = kcat("-b", f"localhost:{s.sasl_ssl_port}", "-X", "security.protocol=SASL_SSL", "-X",
             "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=guardian", "-X", "sasl.password=guardian-pw",
             "-X", f"ssl.ca.location={certs / 'ca.pem'}", "-C", "-t", "sec", "-p", "0", "-o", "beginning", "-e",
             "-q")
    out = r.stdout.decode()
    assert out.splitlines()[0] == "v0" and "from-aiokafka" in out

    # strom's own tools through --command-config with Kafka's client property names.
    props = s.broker.tmp_dir / "client.properties"
    props.write_text("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                     "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
                     "  username=\"guardian\" password=\"guardian-pw\";\n"
                     f"ssl.truststore.type=PEM\nssl.truststore.location={certs / 'ca.pem'}\n")
    out = run_tool("kafka-topics", "--bootstrap-server", f"localhost:{s.sasl_ssl_port}", "--command-config",
                   str(props), "--list").stdout
    assert "sec" in out.split()

    # The credentials survive a restart (standalone metadata store).
    s.broker.stop()
    s.broker.start()
    assert "SCRAM-SHA-512=iterations=8192" in describe_scram(bs, "guardian")
    doc = json.loads((s.broker.data_dir / "strom-metadata.json").read_text())
    stored = doc["entity_configs"]["users/guardian"]["SCRAM-SHA-512"]
    fields = dict(kv.split("=", 1) for kv in stored.split(","))
    assert fields["iterations"] == "8192" and len(base64.b64decode(fields["salt"])) == 32
    assert ck_round_trip(s.ck_conf("scram512"), "sec", n=1)[0] == b"v0"


def test_wrong_passwords_unknown_users_and_mechanisms_fail_and_the_broker_goes_on(make_broker, certs):
    s = Secure(make_broker, certs).start()
    bs = s.broker.bootstrap
    set_scram(bs, "guardian", "SCRAM-SHA-512=[iterations=4096,password=guardian-pw]")
    create_topic_plain(bs, "t")
    err = ck_auth_error(s.ck_conf("scram512", **{"sasl.password": "nope"}))
    assert ("Authentication failed during authentication due to invalid credentials with SASL mechanism "
            "SCRAM-SHA-512") in err, err
    err = ck_auth_error(s.ck_conf("scram512", **{"sasl.username": "nobody"}))
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in err, err
    err = ck_auth_error(s.ck_conf("plain", **{"sasl.password": "wrong"}))
    assert "Authentication failed: Invalid username or password" in err, err
    err = ck_auth_error(s.ck_conf("plain", **{"sasl.mechanism": "SCRAM-SHA-512"}))
    assert "SCRAM-SHA-512" in err and ("not supported" in err.lower() or "unsupported" in err.lower()), err
    # kafka-python over v0 bare tokens: the connection is closed on failure.
    kafka = need_module("kafka")
    with pytest.raises(Exception):
        kafka.KafkaProducer(bootstrap_servers=f"localhost:{s.sasl_plain_port}", security_protocol="SASL_PLAINTEXT",
                            sasl_mechanism="PLAIN", sasl_plain_username="alice", sasl_plain_password="bad",
                            api_version_auto_timeout_ms=5000, request_timeout_ms=5000)
    # The broker still serves everyone.
    assert ck_round_trip(s.ck_conf("plain"), "t", n=2) == [b"v0", b"v1"]
    assert ck_round_trip(s.ck_conf("scram512"), "t", n=2)[:2] == [b"v0", b"v1"]
    log = s.broker.log_path.read_text()
    assert "SASL authentication failed" in log and "nope" not in log and "wrong" not in log


def test_requests_before_authentication_close_the_connection(make_broker, certs):
    s = Secure(make_broker, certs).start()
    # ApiVersions is answered before authentication …
    assert api_versions("127.0.0.1", s.sasl_plain_port, version=3)["error_code"] == 0
    # … Metadata is not: the connection is closed, as Kafka closes it.
    sock = socket.create_connection(("127.0.0.1", s.sasl_plain_port), timeout=5)
    body = b"\x00\x03\x00\x01\x00\x00\x00\x07\x00\x01x" + b"\xff\xff\xff\xff"
    sock.sendall(len(body).to_bytes(4, "big") + body)
    assert sock.recv(10) == b""
    sock.close()
    # PLAIN with kafka-python (SaslHandshake v0, bare tokens) and aiokafka succeed.
    kafka = need_module("kafka")
    create_topic_plain(s.broker.bootstrap, "pl")
    prod = kafka.KafkaProducer(bootstrap_servers=f"localhost:{s.sasl_plain_port}", security_protocol="SASL_PLAINTEXT",
                               sasl_mechanism="PLAIN", sasl_plain_username="alice", sasl_plain_password="alice-pw",
                               acks="all")
    assert prod.send("pl", b"kp", partition=0).get(timeout=30).offset == 0
    prod.close()
    aiokafka = need_module("aiokafka")

    async def aio():
        p = aiokafka.AIOKafkaProducer(bootstrap_servers=f"localhost:{s.sasl_plain_port}",
                                      security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                                      sasl_plain_username="alice", sasl_plain_password="alice-pw", acks="all")
        await p.start()
        try:
            return (await p.send_and_wait("pl", b"aio", partition=0)).offset
        finally:
            await p.stop()

    assert asyncio.run(aio()) == 1
    assert ck_round_trip(s.ck_conf("plain"), "pl", n=3)[:2] == [b"kp", b"aio"]
    r = kcat("-b", f"localhost:{s.sasl_plain_port}", "-X", "security.protocol=SASL_PLAINTEXT", "-X",
             "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=alice-pw", "-L", "-J")
    assert json.loads(r.stdout.decode())["brokers"][0]["id"] == 1


def test_ssl_client_certificates_principal_expired_and_garbage(make_broker, certs):
    s = Secure(make_broker, certs).start()
    create_topic_plain(s.broker.bootstrap, "tls")
    assert ck_round_trip(s.ck_conf("ssl"), "tls", n=3) == [b"v0", b"v1", b"v2"]
    wait_until(lambda: "principal=User:alice" in s.broker.log_path.read_text(), 5, "the certificate's principal")
    kafka = need_module("kafka")
    prod = kafka.KafkaProducer(bootstrap_servers=f"localhost:{s.ssl_port}", security_protocol="SSL",
                               ssl_cafile=str(certs / "ca.pem"), ssl_certfile=str(certs / "client.crt"),
                               ssl_keyfile=str(certs / "client.key"), acks="all")
    assert prod.send("tls", b"kp", partition=0).get(timeout=30).offset == 3
    prod.close()
    r = kcat("-b", f"localhost:{s.ssl_port}", "-X", "security.protocol=SSL", "-X",
             f"ssl.ca.location={certs / 'ca.pem'}", "-X", f"ssl.certificate.location={certs / 'client.crt'}",
             "-X", f"ssl.key.location={certs / 'client.key'}", "-C", "-t", "tls", "-p", "0", "-o", "beginning",
             "-e", "-q")
    assert r.stdout.decode().split() == ["v0", "v1", "v2", "kp"]

    # An expired client certificate, and none at all, are refused in the handshake.
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    ctx.load_cert_chain(str(certs / "expired.crt"), str(certs / "expired.key"))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)) as exc:
        with socket.create_connection(("127.0.0.1", s.ssl_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"\x00\x00\x00\x00")
                tls.recv(10)
    assert "expired" in str(exc.value).lower() or "certificate" in str(exc.value).lower(), exc.value
    err = ck_auth_error(s.ck_conf("ssl", **{"ssl.certificate.location": str(certs / "expired.crt"),
                                            "ssl.key.location": str(certs / "expired.key")}))
    assert "expired" in err.lower() or "certificate" in err.lower(), err
    # (The broker's line names it too — "certificate expired" — rate-limited to one per 10 s.)

    # Plaintext on a TLS listener, TLS garbage, and a handshake that never
    # finishes: each closes only its own connection.
    with socket.create_connection(("127.0.0.1", s.sasl_ssl_port), timeout=5) as plain:
        body = b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00"
        plain.sendall(len(body).to_bytes(4, "big") + body)
        assert plain.recv(100)[:1] in (b"\x15", b"")  # a TLS alert, then close
    with socket.create_connection(("127.0.0.1", s.ssl_port), timeout=5) as junk:
        junk.sendall(b"\x16\x03\x01\x00\x05garbagegarbage")
        data = junk.recv(100)
        assert data == b"" or data[:1] == b"\x15"
    stall = socket.create_connection(("127.0.0.1", s.ssl_port), timeout=10)
    stall.sendall(b"\x16\x03\x01")  # the start of a ClientHello, nothing more
    t0 = time.monotonic()
    # Meanwhile the listener serves others.
    assert ck_round_trip(s.ck_conf("ssl"), "tls", n=1)[0] == b"v0"
    stall.settimeout(10)
    try:
        rest = stall.recv(100)
    except ConnectionResetError:
        rest = b""
    assert rest == b"" or rest[:1] == b"\x15"
    assert time.monotonic() - t0 < 9, "the stalled handshake was not bounded by connections.max.idle.ms"
    stall.close()


def test_certificates_reload_without_restart(make_broker, tmp_path, certs):
    # The listener's own copies of the files, so they can be replaced.
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(certs / "server.pem", live / "server.pem")
    s = Secure(make_broker, certs, {"ssl.keystore.location": str(live / "server.pem")}).start()

    def serial() -> int:
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        ctx.load_cert_chain(str(certs / "client.crt"), str(certs / "client.key"))
        with socket.create_connection(("127.0.0.1", s.ssl_port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                der = tls.getpeercert(binary_form=True)
        return int(hashlib.sha256(der).hexdigest(), 16)

    before = serial()
    # A new server certificate from the same CA, written in place.
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", str(live / "new.crt"), "-days", "3", "-extfile", "san.ext", cwd=certs)
    (live / "server.pem").write_text((certs / "server.key").read_text() + (live / "new.crt").read_text())
    wait_until(lambda: serial() != before, 10, "the new certificate to be served")
    assert "reloaded" in s.broker.log_path.read_text()
    # A broken file keeps the certificate in use.
    now = serial()
    (live / "server.pem").write_text("not a pem file\n")
    wait_until(lambda: "cannot be loaded" in s.broker.log_path.read_text(), 10, "the reload failure")
    assert serial() == now


def test_scram_credentials_in_zookeeper_in_kafkas_format(make_broker, zookeeper, certs):
    k = zookeeper.kazoo()
    try:
        s = Secure(make_broker, certs, {"zookeeper.connect": zookeeper.connect,
                                        "zookeeper.session.timeout.ms": "6000"}).start()
        bs = s.broker.bootstrap
        run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "guardian",
                 "--alter", "--add-config", "producer_byte_rate=1024")
        set_scram(bs, "guardian", "SCRAM-SHA-512=[iterations=8192,password=guardian-pw]")
        doc = json.loads(k.get("/config/users/guardian")[0])
        assert doc["version"] == 1 and doc["config"]["producer_byte_rate"] == "1024"
        cred = dict(kv.split("=", 1) for kv in doc["config"]["SCRAM-SHA-512"].split(","))
        assert sorted(cred) == ["iterations", "salt", "server_key", "stored_key"] and cred["iterations"] == "8192"
        # The stored key is Kafka's: H(HMAC(Hi(password, salt, i), "Client Key")).
        salted = hashlib.pbkdf2_hmac("sha512", b"guardian-pw", base64.b64decode(cred["salt"]), 8192)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
        assert base64.b64decode(cred["stored_key"]) == hashlib.sha512(client_key).digest()
        changes = [json.loads(k.get(f"/config/changes/{c}")[0]) for c in k.get_children("/config/changes")]
        assert {"version": 2, "entity_path": "users/guardian"} in changes
        run_tool("kafka-topics", "--bootstrap-server", bs, "--create", "--topic", "zt", "--partitions", "1")
        assert ck_round_trip(s.ck_conf("scram512"), "zt", n=2) == [b"v0", b"v1"]
        # A credential written by another ZooKeeper writer (Kafka's own tools) is picked up.
        salt = b"0123456789abcdef"
        salted = hashlib.pbkdf2_hmac("sha512", b"other-pw", salt, 4096)
        ck_ = hmac.new(salted, b"Client Key", hashlib.sha512).digest()
        sk = hmac.new(salted, b"Server Key", hashlib.sha512).digest()
        value = (f"salt={base64.b64encode(salt).decode()},stored_key={base64.b64encode(hashlib.sha512(ck_).digest()).decode()},"
                 f"server_key={base64.b64encode(sk).decode()},iterations=4096")
        k.create("/config/users/other", json.dumps({"version": 1, "config": {"SCRAM-SHA-512": value}}).encode())
        conf = s.ck_conf("scram512", **{"sasl.username": "other", "sasl.password": "other-pw"})
        time.sleep(6)  # the periodic reload of entity configs (5 s)
        assert ck_round_trip(conf, "zt", n=1)[0] == b"v0"
        # Deleting keeps the quota.
        run_tool("kafka-configs", "--bootstrap-server", bs, "--entity-type", "users", "--entity-name", "guardian",
                 "--alter", "--delete-config", "SCRAM-SHA-512")
        assert json.loads(k.get("/config/users/guardian")[0])["config"] == {"producer_byte_rate": "1024"}
    finally:
        k.stop()


def broker_counter(b, name: str) -> float:
    """A counter of the broker's /metrics (0 before its first increment)."""
    import urllib.request
    text = urllib.request.urlopen(b.metrics_url + "/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def raw_request(sock: socket.socket, api_key: int, version: int, body: bytes, correlation_id: int) -> bytes:
    """One non-flexible request on an open socket; the response body (b"" if the broker closed)."""
    import struct
    from conftest import read_frame
    header = struct.pack(">hhih", api_key, version, correlation_id, 8) + b"kip368-t"
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    try:
        frame = read_frame(sock)
    except (ConnectionError, OSError, AssertionError, EOFError):
        return b""
    assert struct.unpack_from(">i", frame)[0] == correlation_id
    return frame[4:]


def sasl_plain_v1(sock: socket.socket, user: str, password: str) -> int:
    """SaslHandshake v1 + SaslAuthenticate v1 with PLAIN; returns the session lifetime (ms)."""
    import struct
    resp = raw_request(sock, 17, 1, struct.pack(">h", 5) + b"PLAIN", 1)
    assert resp[:2] == b"\x00\x00", resp
    token = b"\0" + user.encode() + b"\0" + password.encode()
    resp = raw_request(sock, 36, 1, struct.pack(">i", len(token)) + token, 2)
    error_code, msg_len = struct.unpack_from(">hh", resp)
    assert error_code == 0, resp
    pos = 4 + max(msg_len, 0)
    (auth_len,) = struct.unpack_from(">i", resp, pos)
    pos += 4 + max(auth_len, 0)
    (lifetime,) = struct.unpack_from(">q", resp, pos)
    assert pos + 8 == len(resp)
    return lifetime


METADATA_ALL_V1 = b"\xff\xff\xff\xff"  # Metadata v1: topics = null (all)


def test_kip368_reauthentication_keeps_connections_and_expiry_closes_the_others(make_broker, certs):
    """connections.max.reauth.ms=3000: a current librdkafka (confluent-kafka, KIP-368) re-authenticates
    on its connection and loses nothing; clients that do not re-authenticate (kafka-python 2.0.2,
    a raw client) have their connection closed at their first request after the session lifetime."""
    lifetime_ms = 3000
    s = Secure(make_broker, certs, {"connections.max.reauth.ms": str(lifetime_ms),
                                    "connections.max.idle.ms": "60000"}).start()
    b = s.broker
    set_scram(b.bootstrap, "guardian", "SCRAM-SHA-256=[password=guardian-pw]")
    create_topic_plain(b.bootstrap, "reauth")
    killed = "strom_expired_connections_killed_total"
    reauths = "strom_successful_reauthentication_total"
    assert broker_counter(b, killed) == 0 and broker_counter(b, reauths) == 0

    # 1. confluent-kafka over SASL_PLAINTEXT/SCRAM-SHA-256 keeps producing across re-authentications.
    import confluent_kafka
    assert tuple(int(x) for x in confluent_kafka.libversion()[0].split(".")[:2]) >= (2, 2), "needs KIP-368"
    conf = {"bootstrap.servers": f"localhost:{s.sasl_plain_port}", "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "guardian", "sasl.password": "guardian-pw",
            "broker.address.family": "v4"}
    stats: list[dict] = []
    errors: list = []
    acked: list[int] = []
    p = ck.Producer({**conf, "acks": "all", "linger.ms": 0, "statistics.interval.ms": 500,
                     "stats_cb": lambda j: stats.append(json.loads(j)),
                     "error_cb": lambda e: errors.append(str(e))})

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            acked.append(msg.offset())

    sent = 0
    t_end = time.monotonic() + 4 * lifetime_ms / 1000  # about four session lifetimes
    while time.monotonic() < t_end:
        p.produce("reauth", f"r{sent}".encode(), partition=0, on_delivery=delivered)
        sent += 1
        p.poll(0.05)
    assert p.flush(30) == 0
    p.poll(1)  # one more statistics callback
    assert errors == []
    assert sorted(acked) == list(range(sent)), "every record acknowledged once, in order of offsets"
    # The broker saw the sessions renewed on the open connection, and killed none.
    assert broker_counter(b, reauths) >= 3
    assert broker_counter(b, killed) == 0
    # The client kept its one connection to the broker throughout.
    brokers = [v for v in stats[-1]["brokers"].values() if v.get("nodeid", -1) >= 0 or v.get("connects", 0)]
    assert brokers and all(v.get("disconnects", 0) == 0 for v in brokers), brokers
    assert sum(v.get("connects", 0) for v in brokers) == 1, [(v["name"], v.get("connects")) for v in brokers]
    # Everything produced is there to read.
    c = ck.Consumer({**conf, "group.id": f"g-{uuid.uuid4()}", "enable.auto.commit": False})
    c.assign([ck.TopicPartition("reauth", 0, 0)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < sent and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [f"r{i}".encode() for i in range(sent)]

    # 2. kafka-python 2.0.2 does not re-authenticate: its Produce after the session lifetime closes its
    # connection (counted by the broker); it reconnects, authenticates anew, and the record arrives.
    kafka = need_module("kafka")
    before = broker_counter(b, killed)
    prod = kafka.KafkaProducer(bootstrap_servers=f"localhost:{s.sasl_plain_port}", security_protocol="SASL_PLAINTEXT",
                               sasl_mechanism="PLAIN", sasl_plain_username="alice", sasl_plain_password="alice-pw",
                               acks="all", retries=3, retry_backoff_ms=200)
    first = prod.send("reauth", b"kp-1", partition=0).get(timeout=30).offset
    time.sleep(lifetime_ms / 1000 + 0.5)
    second = prod.send("reauth", b"kp-2", partition=0).get(timeout=30).offset
    prod.close()
    assert (first, second) == (sent, sent + 1)
    assert broker_counter(b, killed) >= before + 1

    before = broker_counter(b, killed)
    # 3. The exact behaviour on one raw connection: the lifetime is announced in SaslAuthenticate v1,
    # requests are served until it ends, and the first request after it closes the connection ...
    with socket.create_connection(("127.0.0.1", s.sasl_plain_port), timeout=10) as raw:
        assert sasl_plain_v1(raw, "alice", "alice-pw") == lifetime_ms
        assert raw_request(raw, 3, 1, METADATA_ALL_V1, 3) != b""
        time.sleep(lifetime_ms / 1000 + 0.3)
        assert raw_request(raw, 3, 1, METADATA_ALL_V1, 4) == b""
    assert broker_counter(b, killed) == before + 1
    # ... unless it is a re-authentication (SaslHandshake, then SaslAuthenticate), which renews it.
    reauth_before = broker_counter(b, reauths)
    with socket.create_connection(("127.0.0.1", s.sasl_plain_port), timeout=10) as raw:
        assert sasl_plain_v1(raw, "alice", "alice-pw") == lifetime_ms
        time.sleep(lifetime_ms / 1000 + 0.3)
        assert sasl_plain_v1(raw, "alice", "alice-pw") == lifetime_ms
        assert raw_request(raw, 3, 1, METADATA_ALL_V1, 5) != b""
    # (>=: the confluent-kafka producer above is still open and renewing its own session.)
    assert broker_counter(b, reauths) >= reauth_before + 1
    assert broker_counter(b, killed) == before + 1

"""The web console's and the metrics endpoint's security (issue 16, item 5).

- Sign-in with the broker's SASL users: a broker with a SASL_PLAINTEXT
  listener (SCRAM-SHA-512 and PLAIN) and the ACL authorizer; a SCRAM user
  (created with kafka-configs) signs in through the form in headless
  chromium and sees the topics its ACLs let it describe, not the others; a
  wrong password is refused; an ACL-denied topic's page and messages are
  403; the JSON API (python requests) needs the session, runs as the user
  (produce denied without WRITE, allowed once kafka-acls grants it) and
  checks the session's CSRF token; the sign-in form's CSRF token.
- HTTPS: with `listener.name.console.ssl.keystore.location` the console
  answers https (python requests against the test CA), the session cookie
  is Secure, and plain http gets one 400 saying to use https.
- `metrics.authentication=basic`: /metrics 401 without or with wrong
  credentials, 200 with a SCRAM or PLAIN user's; /health and /ready open.

Certificates are made at test time with openssl (test_security's helper).
"""

from __future__ import annotations

import html
import re
import shutil
import socket

import pytest

from conftest import free_port, need_module, wait_until
from test_new_apis import run_tool
from test_security import PLAIN_JAAS, SCRAM_JAAS, make_certs, set_scram

requests = need_module("requests")
webdriver = need_module("selenium.webdriver")
ck = need_module("confluent_kafka")
By = need_module("selenium.webdriver.common.by").By

from test_console import chromedriver  # noqa: E402  (after the module checks)

PASSWORD = "guardian-pw"


def secured(make_broker, extra: dict | None = None, start: bool = True):
    """A broker with EXTERNAL/INTERNAL PLAINTEXT (ANONYMOUS is a super user,
    for the admin tools) and LAN SASL_PLAINTEXT with SCRAM-SHA-512 and PLAIN
    (user alice), under the ACL authorizer."""
    b = make_broker(start=False)
    lan = free_port()
    b.sasl_port = lan
    p1, p2 = b.ports
    b.extra_overrides.update({
        "listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://127.0.0.1:{p2},LAN://127.0.0.1:{lan}",
        "advertised.listeners": f"EXTERNAL://127.0.0.1:{p1},INTERNAL://localhost:{p2},LAN://127.0.0.1:{lan}",
        "listener.security.protocol.map": "EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,LAN:SASL_PLAINTEXT",
        "listener.name.lan.sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
        "listener.name.lan.scram-sha-512.sasl.jaas.config": SCRAM_JAAS,
        "listener.name.lan.plain.sasl.jaas.config": PLAIN_JAAS,
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:ANONYMOUS",
    })
    b.extra_overrides.update(extra or {})
    if start:
        b.start()
    return b


def acl(bs: str, *args: str) -> None:
    run_tool("kafka-acls", "--bootstrap-server", bs, "--add", *args)


def produce(bs: str, topic: str, values: list[bytes]) -> None:
    p = ck.Producer({"bootstrap.servers": bs, "broker.address.family": "v4", "linger.ms": 0})
    for v in values:
        p.produce(topic, v, partition=0)
    assert p.flush(30) == 0


def signin_form(s, base: str, **kw) -> str:
    """GET /signin: the form's CSRF field (its cookie is kept by the session)."""
    r = s.get(base + "/signin", timeout=10, **kw)
    assert r.status_code == 200, r.text
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text)
    assert m, r.text
    return m.group(1)


def sign_in(base: str, user: str, password: str, **kw):
    s = requests.Session()
    token = signin_form(s, base, **kw)
    r = s.post(base + "/signin", data={"user": user, "password": password, "csrf": token, "next": "/topics"},
               allow_redirects=False, timeout=30, **kw)
    return s, r


@pytest.fixture(scope="module")
def driver():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(a)
    if shutil.which("chromium"):
        opts.binary_location = shutil.which("chromium")
    d = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=chromedriver()))
    d.set_page_load_timeout(20)
    yield d
    d.quit()


def test_scram_user_signs_in_and_sees_what_its_acls_allow(make_broker, driver):
    b = secured(make_broker)
    bs = b.bootstrap
    for t in ("visible", "secret"):
        run_tool("kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t, "--partitions", "1")
    produce(bs, "visible", [b"v0", b"v1"])
    produce(bs, "secret", [b"s0"])
    set_scram(bs, "guardian", f"SCRAM-SHA-512=[iterations=8192,password={PASSWORD}]")
    acl(bs, "--allow-principal", "User:guardian", "--operation", "Read", "--topic", "visible")
    base = b.console_url

    # Without a session: pages go to the sign-in form, the API is 401.
    r = requests.get(base + "/topics", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Ftopics", r.headers
    r = requests.get(base + "/api/v1/topics", timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized", r.text
    assert requests.get(base + "/assets/console.css", timeout=10).status_code == 200

    d = driver
    d.delete_all_cookies()
    d.get(base + "/topics")
    assert "/signin" in d.current_url
    # A wrong password is refused.
    d.find_element(By.ID, "signin-user").send_keys("guardian")
    d.find_element(By.ID, "signin-password").send_keys("not-the-password")
    d.find_element(By.ID, "signin-submit").click()
    wait_until(lambda: d.find_elements(By.ID, "signin-error"), 15, "the sign-in error")
    assert d.find_element(By.ID, "signin-error").text == "Invalid user name or password."
    assert "/signin" in d.current_url
    # The right one signs in and lands on the page asked for.
    d.find_element(By.ID, "signin-user").send_keys("guardian")
    d.find_element(By.ID, "signin-password").send_keys(PASSWORD)
    d.find_element(By.ID, "signin-submit").click()
    wait_until(lambda: d.find_elements(By.ID, "topics-table"), 15, "the topic list after signing in")
    assert d.current_url.endswith("/topics")
    assert d.find_element(By.ID, "signed-in-user").text == "guardian"
    names = [e.get_attribute("data-topic") for e in d.find_elements(By.CSS_SELECTOR, "#topics-table tbody tr")]
    assert names == ["visible"], names
    # READ on visible: its messages show.
    d.get(base + "/topics/visible/messages")
    cells = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#messages-table tbody tr td.value")]
    assert any("v0" in c for c in cells) and any("v1" in c for c in cells), cells
    # The denied topic: neither its page nor its messages.
    for path in ("/topics/secret", "/topics/secret/messages"):
        d.get(base + path)
        err = d.find_element(By.ID, "error").text
        assert "not authorized" in err and "secret" in err, err
    d.get(base + "/")
    assert d.find_element(By.ID, "topic-count").text == "1"
    # Signing out ends the session.
    d.find_element(By.ID, "signout").click()
    wait_until(lambda: "/signin" in d.current_url, 15, "the sign-in form after signing out")
    d.get(base + "/topics")
    assert "/signin" in d.current_url


def test_api_runs_as_the_signed_in_user_with_its_csrf_token(make_broker):
    b = secured(make_broker)
    bs = b.bootstrap
    for t in ("visible", "secret"):
        run_tool("kafka-topics", "--bootstrap-server", bs, "--create", "--topic", t, "--partitions", "1")
    set_scram(bs, "guardian", f"SCRAM-SHA-512=[password={PASSWORD}]")
    acl(bs, "--allow-principal", "User:guardian", "--operation", "Read", "--topic", "visible")
    base = b.console_url

    s, r = sign_in(base, "guardian", "wrong")
    assert r.status_code == 401 and "Invalid user name or password." in html.unescape(r.text)
    assert "strom_console_session" not in r.headers.get("set-cookie", "")
    s, r = sign_in(base, "nobody", PASSWORD)
    assert r.status_code == 401
    s, r = sign_in(base, "guardian", PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/topics", r.text
    cookie = [c for c in r.headers["set-cookie"].split(", ") if c.startswith("strom_console_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie, cookie
    assert "Secure" not in cookie  # plain http here; see the TLS test

    topics = s.get(base + "/api/v1/topics", timeout=10).json()
    assert [t["name"] for t in topics] == ["visible"]
    r = s.get(base + "/api/v1/topics/secret", timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
    assert s.get(base + "/api/v1/topics/secret/messages", timeout=10).status_code == 403
    assert s.get(base + "/api/v1/topics/visible/messages", timeout=10).status_code == 200
    me = s.get(base + "/api/v1/csrf", timeout=10).json()
    assert me["user"] == "guardian"
    token = me["token"]
    # The process-wide token of a console without sign-in is not this session's.
    record = {"value": "from-the-console", "partition": 0}
    r = s.post(base + "/api/v1/topics/visible/messages", json=record, headers={"x-csrf-token": "0" * 32}, timeout=10)
    assert r.status_code == 403 and "CSRF" in r.json()["message"]
    # No WRITE on visible: the produce is refused as Produce would be.
    r = s.post(base + "/api/v1/topics/visible/messages", json=record, headers={"x-csrf-token": token}, timeout=10)
    assert r.status_code == 403 and "ProduceTopic" in r.json()["message"], r.text
    # Creating a topic needs CREATE: TOPIC_AUTHORIZATION_FAILED, a 403.
    r = s.post(base + "/api/v1/topics", json={"name": "made-by-guardian"}, headers={"x-csrf-token": token}, timeout=10)
    assert r.status_code == 403 and "TopicAuthorizationFailed" in r.json()["message"], r.text
    acl(bs, "--allow-principal", "User:guardian", "--operation", "Write", "--topic", "visible")
    r = wait_until(lambda: (lambda r: r if r.status_code == 200 else None)(
        s.post(base + "/api/v1/topics/visible/messages", json=record, headers={"x-csrf-token": token}, timeout=10)),
        15, "the produce allowed once WRITE is granted")
    assert r.json()["partition"] == 0
    # What the console produced as guardian is there for a Kafka client.
    c = ck.Consumer({"bootstrap.servers": bs, "group.id": "check", "auto.offset.reset": "earliest",
                     "broker.address.family": "v4"})
    c.assign([ck.TopicPartition("visible", 0, 0)])
    m = None
    for _ in range(40):
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            break
    c.close()
    assert m is not None and m.value() == b"from-the-console"

    # A PLAIN user of the JAAS config signs in too; without ACLs it sees nothing.
    s2, r = sign_in(base, "alice", "alice-pw")
    assert r.status_code == 303
    assert s2.get(base + "/api/v1/topics", timeout=10).json() == []
    assert s2.get(base + "/api/v1/broker/configs", timeout=10).status_code == 403

    # The sign-in form's CSRF: a post without the form's cookie is refused.
    token = signin_form(requests.Session(), base)
    r = requests.post(base + "/signin", data={"user": "guardian", "password": PASSWORD, "csrf": token},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 403 and "strom_console_session" not in r.headers.get("set-cookie", "")
    # Ingest routes keep their own rules (no sign-in): the REST proxy answers.
    assert requests.get(base + "/v3/clusters", timeout=10).status_code == 200


def test_console_without_sasl_or_with_authentication_none_needs_no_sign_in(make_broker):
    b = secured(make_broker, {"console.authentication": "none"})
    assert requests.get(b.console_url + "/api/v1/topics", timeout=10).status_code == 200
    r = requests.get(b.console_url + "/signin", allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert requests.get(b.console_url + "/api/v1/csrf", timeout=10).json()["user"] is None


def test_console_over_https_and_plain_http_refused(make_broker, tmp_path):
    certs = make_certs(tmp_path / "certs")
    b = secured(make_broker, {
        "listener.name.console.ssl.keystore.type": "PEM",
        "listener.name.console.ssl.keystore.location": str(certs / "server.pem"),
    })
    set_scram(b.bootstrap, "guardian", f"SCRAM-SHA-512=[password={PASSWORD}]")
    https = f"https://localhost:{b.console_port}"
    ca = str(certs / "ca.pem")
    r = requests.get(https + "/api/v1/overview", verify=ca, timeout=10)
    assert r.status_code == 401  # TLS works; the API still needs a session
    s, r = sign_in(https, "guardian", PASSWORD, verify=ca)
    assert r.status_code == 303
    cookie = [c for c in r.headers["set-cookie"].split(", ") if c.startswith("strom_console_session=")][0]
    assert "Secure" in cookie and "HttpOnly" in cookie, cookie
    assert s.get(https + "/api/v1/overview", verify=ca, timeout=10).json()["broker_id"] == 1
    # Plain http: one 400 telling to use https, then the connection closes.
    r = requests.get(f"http://127.0.0.1:{b.console_port}/", timeout=10)
    assert r.status_code == 400 and "use https://" in r.text
    # Garbage instead of a handshake: closed, and the console goes on.
    with socket.create_connection(("127.0.0.1", b.console_port), timeout=10) as sock:
        sock.sendall(b"\x00\x01\x02garbage")
        try:
            assert sock.recv(100) == b""  # closed (or reset, the garbage being unread)
        except ConnectionResetError:
            pass
    # A client that does not trust the CA fails the handshake.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https + "/", timeout=10)
    assert requests.get(https + "/signin", verify=ca, timeout=10).status_code == 200
    # The Kafka listeners and /metrics are untouched (plain).
    assert requests.get(b.metrics_url + "/health", timeout=10).status_code == 200


def test_metrics_basic_authentication(make_broker):
    b = secured(make_broker, {"metrics.authentication": "basic"})
    set_scram(b.bootstrap, "prometheus", "SCRAM-SHA-512=[password=scrape-pw]")
    url = b.metrics_url
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic realm=")
    assert requests.get(url + "/metrics", auth=("prometheus", "wrong"), timeout=10).status_code == 401
    assert requests.get(url + "/metrics", auth=("nobody", "scrape-pw"), timeout=10).status_code == 401
    r = requests.get(url + "/metrics", headers={"authorization": "Bearer x"}, timeout=10)
    assert r.status_code == 401
    r = requests.get(url + "/metrics", auth=("prometheus", "scrape-pw"), timeout=10)
    assert r.status_code == 200 and "strom_ready 1" in r.text
    r = requests.get(url + "/metrics", auth=("alice", "alice-pw"), timeout=10)  # a PLAIN user
    assert r.status_code == 200 and "kafka_brokers 1" in r.text
    for path in ("/health", "/ready"):
        assert requests.get(url + path, timeout=10).status_code == 200


def test_metrics_basic_authentication_needs_sasl_users(make_broker):
    b = make_broker(extra_overrides={"metrics.authentication": "basic"}, start=False)
    with pytest.raises(AssertionError, match="exited with code"):
        b.start(timeout=30)
    assert "metrics.authentication=basic needs the users of a SASL listener" in b.log_tail()

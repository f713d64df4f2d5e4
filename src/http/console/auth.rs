//! Signing in to the console with the broker's SASL users
//! (`console.authentication=auto`, the default, on a broker with a SASL
//! listener): a sign-in form, the password checked by the same code the SASL
//! mechanisms use ([`crate::security::sasl::SaslUsers::verify`]: PLAIN's
//! JAAS users, SCRAM's stored salt, iterations and stored key), then a
//! session cookie. Every page and `/api/v1` call then runs as that user
//! ([`Viewer::ctx`], `User:<name>` from the browser's address), so the ACLs
//! apply as to a Kafka client of that principal.
//!
//! Without SASL listeners, or with `console.authentication=none`, nobody
//! signs in and the console acts as the broker itself
//! ([`crate::protocol::RequestContext::internal`]), guarded by its bind
//! address and `console.read.only`, as before.
//!
//! Invariants:
//! - the sign-in form is CSRF-protected by a double-submit token: a random
//!   value both in an `HttpOnly`, `SameSite=Strict` cookie scoped to
//!   `/signin` and in the form; another site can neither read it nor make
//!   the browser send the cookie with a cross-site post;
//! - sessions are random 128-bit tokens in an `HttpOnly`, `SameSite=Strict`
//!   cookie (`Secure` over TLS), each with its own CSRF token; they live at
//!   most [`SESSION_LIFETIME`] and at most [`MAX_SESSIONS`] exist (the
//!   oldest goes first);
//! - at most [`MAX_CONCURRENT_CHECKS`] password checks (PBKDF2) run at once,
//!   on the blocking pool; a failed sign-in says nothing about whether the
//!   user exists, and no password is ever logged.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, Form, Query, Request, State};
use axum::http::header::{HeaderMap, HeaderValue, COOKIE, LOCATION, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::{csrf_token, ConsoleError, EndpointState};
use crate::authorizer::Check;
use crate::http::Transport;
use crate::principal::KafkaPrincipal;
use crate::protocol::{Broker, RequestContext};

/// The session cookie.
pub const SESSION_COOKIE: &str = "strom_console_session";
/// The sign-in form's double-submit cookie.
pub const SIGNIN_COOKIE: &str = "strom_console_signin";
/// How long a session lasts after signing in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Most sessions held at once; signing in beyond it ends the oldest.
pub const MAX_SESSIONS: usize = 256;
/// How long a sign-in form stays valid.
pub const SIGNIN_FORM_LIFETIME: Duration = Duration::from_secs(600);
/// Most password checks running at once (each derives a salted password).
pub const MAX_CONCURRENT_CHECKS: usize = 2;
/// The listener name a signed-in console user's requests carry (log lines).
pub const CONSOLE_LISTENER: &str = "CONSOLE";

/// One signed-in user.
pub struct Session {
    /// The user name (`User:<name>` is the principal).
    pub user: String,
    /// The session's CSRF token, which changes must carry.
    pub csrf: String,
    expires: Instant,
}

/// The console's sessions.
pub struct Sessions {
    map: parking_lot::Mutex<HashMap<String, Arc<Session>>>,
    checks: tokio::sync::Semaphore,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            map: parking_lot::Mutex::new(HashMap::new()),
            checks: tokio::sync::Semaphore::new(MAX_CONCURRENT_CHECKS),
        }
    }
}

fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Sessions {
    /// A new session for `user`; its token. Expired sessions are dropped
    /// first, then the oldest while [`MAX_SESSIONS`] are held.
    pub fn create(&self, user: &str, now: Instant) -> String {
        let token = random_token();
        let session = Arc::new(Session {
            user: user.to_string(),
            csrf: random_token(),
            expires: now + SESSION_LIFETIME,
        });
        let mut map = self.map.lock();
        map.retain(|_, s| s.expires > now);
        while map.len() >= MAX_SESSIONS {
            let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            map.remove(&oldest);
        }
        map.insert(token.clone(), session);
        token
    }

    /// The live session of `token`.
    pub fn get(&self, token: &str, now: Instant) -> Option<Arc<Session>> {
        let mut map = self.map.lock();
        match map.get(token) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(token);
                None
            }
            None => None,
        }
    }

    /// Ends the session of `token`.
    pub fn remove(&self, token: &str) {
        self.map.lock().remove(token);
    }

    /// Sessions held (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Who is looking: put into every console request by the guard.
#[derive(Clone)]
pub struct Viewer {
    /// The signed-in user; `None` when the console needs no sign-in (it
    /// then acts as the broker itself).
    pub user: Option<String>,
    /// The CSRF token changes must carry (the session's, else the process's).
    pub csrf: Arc<str>,
    /// The browser's address (host ACLs).
    pub peer: SocketAddr,
}

impl Viewer {
    /// The viewer of a console without sign-in.
    pub fn broker(peer: SocketAddr) -> Viewer {
        Viewer {
            user: None,
            csrf: Arc::from(csrf_token()),
            peer,
        }
    }

    /// The context the console's calls run in: the signed-in user's
    /// principal from the browser's address, else the broker's own.
    pub fn ctx(&self) -> RequestContext {
        match &self.user {
            Some(u) => RequestContext::signed_in(
                KafkaPrincipal::user(u.clone()),
                self.peer,
                CONSOLE_LISTENER,
            ),
            None => RequestContext::internal(),
        }
    }
}

/// What one snapshot or change may touch: the viewer's context and the
/// broker's authorizer. Every check is a row of the authorizer's table,
/// the one of the Kafka API the console stands in for (Metadata for a topic
/// list, Fetch for messages, DescribeGroups for a group …).
pub struct Access<'a> {
    broker: &'a Broker,
    ctx: RequestContext,
    who: String,
}

impl<'a> Access<'a> {
    /// `viewer`'s access through `broker`.
    pub fn new(broker: &'a Broker, viewer: &Viewer) -> Access<'a> {
        Access {
            broker,
            ctx: viewer.ctx(),
            who: viewer
                .user
                .as_deref()
                .map_or_else(|| "the broker".to_string(), |u| format!("User:{u}")),
        }
    }

    /// The context changes run in.
    pub fn ctx(&self) -> &RequestContext {
        &self.ctx
    }

    /// Whether a list shows `name` (a denial only leaves it out, unlogged).
    pub fn shows(&self, check: Check, name: &str) -> bool {
        self.broker.allows(&self.ctx, check, name, true)
    }

    /// A page or change on `name`: a 403 unless allowed (a denial is logged
    /// as the authorizer logs a Kafka client's).
    pub fn require(&self, check: Check, name: &str) -> Result<(), ConsoleError> {
        if self.broker.allows(&self.ctx, check, name, false) {
            Ok(())
        } else {
            Err(ConsoleError::denied(format!(
                "{} may not do this on {name} ({check:?})",
                self.who
            )))
        }
    }
}

/// Whether the console asks its users to sign in: `console.authentication`
/// is `auto` and a listener uses SASL. Before the logs are loaded nothing
/// is served but "starting", so nothing is asked.
pub fn required(state: &EndpointState) -> bool {
    state
        .sources()
        .is_some_and(|s| s.config.console_authentication && s.sasl_users.configured())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The signed-in session of a request, if any.
pub fn session_of(state: &EndpointState, headers: &HeaderMap) -> Option<Arc<Session>> {
    let token = cookie(headers, SESSION_COOKIE)?;
    state.console_sessions().get(token, Instant::now())
}

/// The peer address of a request (`127.0.0.1:0` when not served by
/// [`crate::http::HttpServer`], as in unit tests).
pub fn peer_of(req: &Request) -> SocketAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0)
}

fn is_tls(req_ext: Option<&Transport>) -> bool {
    req_ext.is_some_and(|t| t.tls)
}

fn cookie_header(name: &str, value: &str, path: &str, max_age: Duration, tls: bool) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Only a path of this console: `/…`, not `//host` or `/\host`.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// Where a request without a session is sent: a page to the sign-in form
/// (coming back afterwards), anything else a 401.
pub fn unauthenticated(req: &Request) -> Response {
    let path = req.uri().path();
    let is_page = req.method() == axum::http::Method::GET && !path.starts_with("/api/");
    if is_page {
        let back = req
            .uri()
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        return redirect(&format!("/signin?next={}", super::pages::enc(&back)));
    }
    let mut r = ConsoleError::Unauthorized(
        "sign in first: GET /signin, then POST /signin with user, password and the form's csrf"
            .into(),
    )
    .into_response();
    r.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("FormBased realm=\"strom console\""),
    );
    r
}

/// The sign-in and sign-out routes (outside the console's guard: they make
/// their own checks).
pub fn routes() -> Router<Arc<EndpointState>> {
    Router::new()
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", post(signout))
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

fn signin_page(next: &str, token: &str, message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · strom" }
                link rel="stylesheet" href="/assets/console.css";
            }
            body {
                header { span.brand { "strom" } }
                main {
                    h1 { "Sign in" }
                    p.muted { "With a user of the broker's SASL listeners (PLAIN or SCRAM)." }
                    @if let Some(m) = message { div.problem #signin-error { (m) } }
                    form.signin method="post" action="/signin" #signin-form {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label { "User " input name="user" autocomplete="username" required #signin-user; }
                        label { "Password " input name="password" type="password" autocomplete="current-password" required #signin-password; }
                        button type="submit" #signin-submit { "Sign in" }
                    }
                }
            }
        }
    }
}

/// A fresh sign-in form with its double-submit cookie.
fn form_response(status: StatusCode, next: &str, message: Option<&str>, tls: bool) -> Response {
    let token = random_token();
    let mut r = (status, signin_page(next, &token, message)).into_response();
    r.headers_mut().insert(
        SET_COOKIE,
        cookie_header(SIGNIN_COOKIE, &token, "/signin", SIGNIN_FORM_LIFETIME, tls),
    );
    r.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    r
}

async fn signin_form(
    State(state): State<Arc<EndpointState>>,
    q: Result<Query<Next>, QueryRejection>,
    req: Request,
) -> Response {
    let next = local_path(q.ok().and_then(|Query(n)| n.next).as_deref());
    if !required(&state) {
        return redirect(&next);
    }
    form_response(StatusCode::OK, &next, None, is_tls(req.extensions().get()))
}

/// The sign-in form's fields.
#[derive(Deserialize)]
struct SignIn {
    user: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn signin(
    State(state): State<Arc<EndpointState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    transport: Option<axum::Extension<Transport>>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let tls = transport.is_some_and(|t| t.tls);
    let Ok(Form(f)) = form else {
        return form_response(
            StatusCode::BAD_REQUEST,
            "/",
            Some("The sign-in form needs user, password and csrf."),
            tls,
        );
    };
    let next = local_path(f.next.as_deref());
    let Some(s) = state.sources().filter(|_| required(&state)) else {
        return redirect(&next);
    };
    let token_ok = cookie(&headers, SIGNIN_COOKIE)
        .is_some_and(|c| !c.is_empty() && constant_time_eq(c.as_bytes(), f.csrf.as_bytes()));
    if !token_ok {
        return form_response(
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form expired or came from another site; sign in again."),
            tls,
        );
    }
    let principal = {
        let Ok(_permit) = state.console_sessions().checks.acquire().await else {
            return form_response(StatusCode::SERVICE_UNAVAILABLE, &next, None, tls);
        };
        let users = s.sasl_users.clone();
        let broker = s.broker.clone();
        let (user, password) = (f.user.clone(), f.password);
        tokio::task::spawn_blocking(move || {
            users.verify(&user, &password, broker.scram_credentials())
        })
        .await
        .ok()
        .flatten()
    };
    let Some(principal) = principal else {
        tracing::info!(user = %f.user, %peer, "console sign-in refused: invalid user name or password");
        return form_response(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("Invalid user name or password."),
            tls,
        );
    };
    tracing::info!(%principal, %peer, "console sign-in");
    let token = state
        .console_sessions()
        .create(&principal.name, Instant::now());
    let mut r = redirect(&next);
    r.headers_mut().append(
        SET_COOKIE,
        cookie_header(SESSION_COOKIE, &token, "/", SESSION_LIFETIME, tls),
    );
    r.headers_mut().append(
        SET_COOKIE,
        cookie_header(SIGNIN_COOKIE, "", "/signin", Duration::ZERO, tls),
    );
    r
}

#[derive(Deserialize)]
struct SignOut {
    csrf: String,
}

async fn signout(
    State(state): State<Arc<EndpointState>>,
    transport: Option<axum::Extension<Transport>>,
    headers: HeaderMap,
    form: Result<Form<SignOut>, FormRejection>,
) -> Response {
    let tls = transport.is_some_and(|t| t.tls);
    let (Some(session), Some(token), Ok(Form(f))) = (
        session_of(&state, &headers),
        cookie(&headers, SESSION_COOKIE),
        form,
    ) else {
        return redirect("/signin");
    };
    if !constant_time_eq(session.csrf.as_bytes(), f.csrf.as_bytes()) {
        return ConsoleError::Forbidden("missing or wrong CSRF token".into()).into_response();
    }
    state.console_sessions().remove(token);
    tracing::info!(user = %session.user, "console sign-out");
    let mut r = redirect("/signin");
    r.headers_mut().insert(
        SET_COOKIE,
        cookie_header(SESSION_COOKIE, "", "/", Duration::ZERO, tls),
    );
    r
}

/// Equal bytes, compared in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_are_bounded() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let first = s.create("alice", t0);
        assert_eq!(
            s.get(&first, t0).map(|x| x.user.clone()),
            Some("alice".into())
        );
        assert!(s.get("nope", t0).is_none());
        assert!(s.get(&first, t0 + SESSION_LIFETIME).is_none());
        assert!(s.is_empty());
        let first = s.create("alice", t0);
        for i in 1..=MAX_SESSIONS {
            s.create("bob", t0 + Duration::from_secs(i as u64));
        }
        assert_eq!(s.len(), MAX_SESSIONS);
        assert!(s.get(&first, t0).is_none(), "the oldest went first");
        let t = s.create("carol", t0);
        s.remove(&t);
        assert!(s.get(&t, t0).is_none());
    }

    #[test]
    fn cookies_and_next_paths() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; strom_console_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert_eq!(local_path(Some("/topics?q=x")), "/topics?q=x");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", ""] {
            assert_eq!(local_path(Some(bad)), "/");
        }
        let c = cookie_header("n", "v", "/", Duration::from_secs(5), true);
        assert_eq!(
            c.to_str().unwrap(),
            "n=v; Path=/; Max-Age=5; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(constant_time_eq(b"ab", b"ab") && !constant_time_eq(b"ab", b"ac"));
    }
}

//! One connection's SASL authentication, as Kafka's `SaslServerAuthenticator`
//! runs it on a SASL_PLAINTEXT or SASL_SSL listener.
//!
//! States: before the handshake only ApiVersions and SaslHandshake are
//! admitted; after SaslHandshake v1 only SaslAuthenticate; after
//! SaslHandshake v0 the client sends bare size-prefixed SASL tokens (no
//! Kafka header), which [`SaslSession::raw_tokens`] tells the network layer;
//! once authenticated every API is admitted until the KIP-368 session
//! (`connections.max.reauth.ms`) expires, after which only a
//! re-authentication (SaslHandshake, then SaslAuthenticate) is. Anything
//! else closes the connection, as Kafka does. A re-authentication must keep
//! the mechanism and the principal.
//!
//! Invariants: the principal is set only by a completed exchange; a failed
//! one leaves the session [`Phase::Failed`] (the connection is closed after
//! the error response); tokens are bounded by `sasl.server.max.receive.size`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::scram::{ScramCredential, ScramError, ScramMechanism, ScramServer, ServerStep};
use crate::principal::KafkaPrincipal;

/// A SASL mechanism strom serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
}

impl Mechanism {
    pub fn from_name(name: &str) -> Option<Mechanism> {
        if name == "PLAIN" {
            return Some(Mechanism::Plain);
        }
        ScramMechanism::from_name(name).map(Mechanism::Scram)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(m) => m.name(),
        }
    }
}

/// Where SCRAM credentials come from (the broker's cache of the metadata store).
pub trait ScramCredentials: Send + Sync {
    fn credential(&self, mechanism: ScramMechanism, user: &str) -> Option<ScramCredential>;
}

/// The broker's SCRAM credentials by (mechanism, user), replaced whole
/// whenever the metadata store's user configs are read.
#[derive(Default)]
pub struct ScramCredentialCache {
    map: parking_lot::RwLock<BTreeMap<(ScramMechanism, String), ScramCredential>>,
}

impl ScramCredentialCache {
    pub fn replace(&self, all: BTreeMap<(ScramMechanism, String), ScramCredential>) {
        *self.map.write() = all;
    }
}

impl ScramCredentials for ScramCredentialCache {
    fn credential(&self, mechanism: ScramMechanism, user: &str) -> Option<ScramCredential> {
        self.map.read().get(&(mechanism, user.to_string())).cloned()
    }
}

/// A listener's SASL settings. Its `Debug` names PLAIN's users but never
/// their passwords, so a logged config cannot leak them.
pub struct SaslServerConfig {
    /// `sasl.enabled.mechanisms` that strom serves, in the configured order.
    pub mechanisms: Vec<Mechanism>,
    /// PLAIN's users from the listener's PLAIN JAAS config (`user_<name>`).
    pub plain_users: BTreeMap<String, String>,
    /// `connections.max.reauth.ms`; 0 = sessions never expire.
    pub max_reauth_ms: i64,
    /// `sasl.server.max.receive.size`.
    pub max_receive_size: usize,
}

impl std::fmt::Debug for SaslServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslServerConfig")
            .field("mechanisms", &self.mechanisms)
            .field("plain_users", &self.plain_users.keys().collect::<Vec<_>>())
            .field("max_reauth_ms", &self.max_reauth_ms)
            .field("max_receive_size", &self.max_receive_size)
            .finish()
    }
}

/// What the client learns from a failed authentication (Kafka's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslFailure {
    /// A message of its own (PLAIN's, a principal change).
    #[error("{0}")]
    Message(String),
    /// Kafka's generic message for SaslException, naming the mechanism only.
    #[error("Authentication failed during {phase} due to invalid credentials with SASL mechanism {mechanism}")]
    InvalidCredentials {
        phase: &'static str,
        mechanism: &'static str,
        /// For the log only, never sent.
        detail: String,
    },
}

/// A handshake the session refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeRefusal {
    /// Not enabled on this listener: UNSUPPORTED_SASL_MECHANISM, then close.
    UnsupportedMechanism,
    /// Not in a state that takes a handshake: ILLEGAL_SASL_STATE.
    IllegalState,
}

/// Whether a request may be served in the session's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Serve,
    /// Close the connection (Kafka's `InvalidRequestException` /
    /// `IllegalSaslStateException`).
    Close(&'static str),
    /// Close the connection: the KIP-368 session expired and this request
    /// is not a re-authentication (Kafka's "Disconnecting expired channel",
    /// counted in `expired-connections-killed-count`).
    Expired,
}

impl Admission {
    /// Why the connection is closed, for the log.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Admission::Serve => None,
            Admission::Close(why) => Some(why),
            Admission::Expired => Some(
                "the SASL session expired (connections.max.reauth.ms) without re-authentication",
            ),
        }
    }
}

enum Exchange {
    Plain,
    Scram(Box<ScramServer>),
}

/// The session's phase.
enum Phase {
    /// Before the handshake (ApiVersions allowed).
    Initial,
    /// Handshake done: tokens come in SaslAuthenticate (v1) or raw (v0).
    Authenticating {
        mechanism: Mechanism,
        exchange: Exchange,
        raw: bool,
    },
    Authenticated {
        mechanism: Mechanism,
        principal: KafkaPrincipal,
        expires: Option<Instant>,
    },
    Failed,
}

/// One connection's SASL state.
pub struct SaslSession {
    config: Arc<SaslServerConfig>,
    phase: Phase,
    /// During a re-authentication: the principal and mechanism it must keep.
    previous: Option<(Mechanism, KafkaPrincipal)>,
}

/// A completed step.
#[derive(Debug)]
pub struct Step {
    /// The token to send back (possibly empty).
    pub token: Vec<u8>,
    /// Set when the exchange completed: the principal, and the session
    /// lifetime to tell the client (0: none).
    pub authenticated: Option<(KafkaPrincipal, i64)>,
}

/// Kafka API keys the session cares about.
const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;

impl SaslSession {
    pub fn new(config: Arc<SaslServerConfig>) -> SaslSession {
        SaslSession {
            config,
            phase: Phase::Initial,
            previous: None,
        }
    }

    /// Whether a request with `api_key` may be served now.
    pub fn admits(&self, api_key: i16, now: Instant) -> Admission {
        match &self.phase {
            Phase::Initial if api_key == API_VERSIONS || api_key == SASL_HANDSHAKE => {
                Admission::Serve
            }
            Phase::Initial => Admission::Close("a request before SASL authentication"),
            Phase::Authenticating { raw: false, .. } if api_key == SASL_AUTHENTICATE => {
                Admission::Serve
            }
            Phase::Authenticating { .. } => {
                Admission::Close("a request other than SaslAuthenticate during SASL authentication")
            }
            Phase::Authenticated { expires, .. } => {
                let expired = expires.is_some_and(|e| now >= e);
                if !expired || api_key == SASL_HANDSHAKE {
                    Admission::Serve
                } else {
                    Admission::Expired
                }
            }
            Phase::Failed => Admission::Close("authentication failed"),
        }
    }

    /// Whether the connection has authenticated (a re-authentication in
    /// progress counts: the session stays authenticated meanwhile).
    pub fn authenticated(&self) -> bool {
        matches!(self.phase, Phase::Authenticated { .. }) || self.previous.is_some()
    }

    /// The mechanism in use, for log lines.
    pub fn mechanism(&self) -> Option<&'static str> {
        match &self.phase {
            Phase::Authenticating { mechanism, .. } | Phase::Authenticated { mechanism, .. } => {
                Some(mechanism.name())
            }
            _ => None,
        }
    }

    /// Whether the next frames are bare SASL tokens (after SaslHandshake v0).
    pub fn raw_tokens(&self) -> bool {
        matches!(self.phase, Phase::Authenticating { raw: true, .. })
    }

    /// The listener's enabled mechanisms, for the handshake response.
    pub fn enabled_mechanisms(&self) -> Vec<&'static str> {
        self.config.mechanisms.iter().map(|m| m.name()).collect()
    }

    /// Largest SASL token accepted.
    pub fn max_receive_size(&self) -> usize {
        self.config.max_receive_size
    }

    /// SaslHandshake: starts an exchange with `mechanism` (a re-authentication when authenticated).
    pub fn handshake(&mut self, mechanism: &str, version: i16) -> Result<(), HandshakeRefusal> {
        let Some(mech) =
            Mechanism::from_name(mechanism).filter(|m| self.config.mechanisms.contains(m))
        else {
            self.phase = Phase::Failed;
            return Err(HandshakeRefusal::UnsupportedMechanism);
        };
        match &self.phase {
            Phase::Initial => {}
            Phase::Authenticated {
                mechanism,
                principal,
                ..
            } => {
                if *mechanism != mech || version < 1 {
                    self.phase = Phase::Failed;
                    return Err(HandshakeRefusal::IllegalState);
                }
                self.previous = Some((*mechanism, principal.clone()));
            }
            _ => return Err(HandshakeRefusal::IllegalState),
        }
        let exchange = match mech {
            Mechanism::Plain => Exchange::Plain,
            Mechanism::Scram(m) => Exchange::Scram(Box::new(ScramServer::new(m))),
        };
        self.phase = Phase::Authenticating {
            mechanism: mech,
            exchange,
            raw: version == 0,
        };
        Ok(())
    }

    /// The principal of a session authenticated before (during re-authentication), else `None`.
    pub fn reauthenticating(&self) -> bool {
        self.previous.is_some()
    }

    /// Feeds one client token.
    pub fn authenticate(
        &mut self,
        token: &[u8],
        credentials: &dyn ScramCredentials,
        now: Instant,
    ) -> Result<Step, SaslFailure> {
        let phase_text = if self.previous.is_some() {
            "re-authentication"
        } else {
            "authentication"
        };
        let Phase::Authenticating {
            mechanism,
            exchange,
            ..
        } = &mut self.phase
        else {
            return Err(SaslFailure::Message(
                "SaslAuthenticate request received before a SaslHandshake".into(),
            ));
        };
        let mech = *mechanism;
        let outcome = match exchange {
            Exchange::Plain => {
                plain(token, &self.config.plain_users).map(|user| (user, Vec::new()))
            }
            Exchange::Scram(server) => {
                let m = match mech {
                    Mechanism::Scram(m) => m,
                    Mechanism::Plain => ScramMechanism::Sha256,
                };
                match server.step(token, &|u| credentials.credential(m, u)) {
                    Ok(ServerStep::Continue(t)) => {
                        return Ok(Step {
                            token: t,
                            authenticated: None,
                        })
                    }
                    Ok(ServerStep::Done { user, last }) => Ok((user, last)),
                    Err(e) => Err(SaslFailure::InvalidCredentials {
                        phase: phase_text,
                        mechanism: mech.name(),
                        detail: match e {
                            ScramError::Malformed(m) => m,
                            ScramError::Invalid(m) => m.to_string(),
                        },
                    }),
                }
            }
        };
        let (user, token) = match outcome {
            Ok(ok) => ok,
            Err(e) => {
                self.phase = Phase::Failed;
                return Err(e);
            }
        };
        let principal = KafkaPrincipal::user(user);
        if let Some((_, before)) = self.previous.take() {
            if before != principal {
                self.phase = Phase::Failed;
                return Err(SaslFailure::Message(format!(
                    "Cannot change principals during re-authentication from {}.{}: {}.{}",
                    before.principal_type, before.name, principal.principal_type, principal.name
                )));
            }
        }
        let lifetime = self.config.max_reauth_ms.max(0);
        let expires = (lifetime > 0)
            .then(|| now + Duration::from_millis(u64::try_from(lifetime).unwrap_or(0)));
        self.phase = Phase::Authenticated {
            mechanism: mech,
            principal: principal.clone(),
            expires,
        };
        Ok(Step {
            token,
            authenticated: Some((principal, lifetime)),
        })
    }
}

/// The broker's SASL users, for the callers that hold a user's password
/// themselves (the web console's sign-in, the metrics endpoint's HTTP Basic
/// authentication): PLAIN users of the SASL listeners that enable PLAIN,
/// checked by PLAIN's own check, and the SCRAM credentials of the SCRAM
/// mechanisms some SASL listener enables, checked by
/// [`ScramCredential::verify_password`].
/// (No `Debug`: it holds PLAIN passwords.)
#[derive(Default)]
pub struct SaslUsers {
    listeners: Vec<Arc<SaslServerConfig>>,
}

impl SaslUsers {
    /// The users of these SASL listeners' settings.
    pub fn new(listeners: Vec<Arc<SaslServerConfig>>) -> SaslUsers {
        SaslUsers { listeners }
    }

    /// Whether some listener authenticates with SASL (the broker has users
    /// of its own, SCRAM ones possibly still to be created).
    pub fn configured(&self) -> bool {
        !self.listeners.is_empty()
    }

    /// The principal of `user` when `password` is theirs under a mechanism a
    /// SASL listener enables; `None` otherwise, alike for an unknown user and
    /// a wrong password. Blocking: a SCRAM check derives the salted password
    /// (PBKDF2 with the stored iterations).
    pub fn verify(
        &self,
        user: &str,
        password: &str,
        credentials: &dyn ScramCredentials,
    ) -> Option<KafkaPrincipal> {
        if user.is_empty() || password.is_empty() {
            return None;
        }
        let token = format!("\0{user}\0{password}");
        let plain_ok = self.listeners.iter().any(|l| {
            l.mechanisms.contains(&Mechanism::Plain)
                && plain(token.as_bytes(), &l.plain_users).is_ok_and(|u| u == user)
        });
        if plain_ok {
            return Some(KafkaPrincipal::user(user.to_string()));
        }
        let scram_ok = ScramMechanism::ALL.into_iter().any(|m| {
            self.listeners
                .iter()
                .any(|l| l.mechanisms.contains(&Mechanism::Scram(m)))
                && credentials
                    .credential(m, user)
                    .is_some_and(|c| c.verify_password(m, password))
        });
        scram_ok.then(|| KafkaPrincipal::user(user.to_string()))
    }
}

/// PLAIN (RFC 4616): `authzid \0 authcid \0 passwd`, checked against the
/// JAAS users; Kafka's `PlainSaslServer` messages.
fn plain(token: &[u8], users: &BTreeMap<String, String>) -> Result<String, SaslFailure> {
    let fail = |m: &str| SaslFailure::Message(format!("Authentication failed: {m}"));
    let text = std::str::from_utf8(token).map_err(|_| fail("Invalid username or password"))?;
    let mut parts = text.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslFailure::Message(
            "Invalid SASL/PLAIN response: expected 3 tokens".into(),
        ));
    };
    if user.is_empty() {
        return Err(fail("username not specified"));
    }
    if password.is_empty() {
        return Err(fail("password not specified"));
    }
    let ok = users.get(user).is_some_and(|expected| {
        expected.len() == password.len()
            && expected
                .bytes()
                .zip(password.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !ok {
        return Err(fail("Invalid username or password"));
    }
    if !authzid.is_empty() && authzid != user {
        return Err(fail(
            "Client requested an authorization id that is different from username",
        ));
    }
    Ok(user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::scram::ScramClient;

    struct Creds(ScramCredential);
    impl ScramCredentials for Creds {
        fn credential(&self, m: ScramMechanism, user: &str) -> Option<ScramCredential> {
            (m == ScramMechanism::Sha512 && user == "guardian").then(|| self.0.clone())
        }
    }

    fn config(reauth: i64) -> Arc<SaslServerConfig> {
        Arc::new(SaslServerConfig {
            mechanisms: vec![Mechanism::Plain, Mechanism::Scram(ScramMechanism::Sha512)],
            plain_users: [("alice".to_string(), "pw".to_string())].into(),
            max_reauth_ms: reauth,
            max_receive_size: 524_288,
        })
    }

    #[test]
    fn debug_names_plain_users_but_not_their_passwords() {
        let shown = format!("{:?}", config(0));
        assert!(shown.contains("\"alice\""), "{shown}");
        assert!(!shown.contains("\"pw\""), "{shown}");
    }

    #[test]
    fn plain_states_and_messages() {
        let creds = Creds(ScramCredential::from_password(
            ScramMechanism::Sha512,
            "x",
            4096,
        ));
        let now = Instant::now();
        let mut s = SaslSession::new(config(0));
        assert_eq!(s.admits(API_VERSIONS, now), Admission::Serve);
        assert!(matches!(s.admits(3, now), Admission::Close(_)));
        assert_eq!(s.handshake("PLAIN", 1), Ok(()));
        assert!(!s.raw_tokens());
        assert!(matches!(s.admits(API_VERSIONS, now), Admission::Close(_)));
        let step = s.authenticate(b"\0alice\0pw", &creds, now).unwrap();
        assert_eq!(
            step.authenticated.map(|(p, l)| (p.to_string(), l)),
            Some(("User:alice".into(), 0))
        );
        assert_eq!(s.admits(3, now), Admission::Serve);

        let mut s = SaslSession::new(config(0));
        s.handshake("PLAIN", 0).unwrap();
        assert!(s.raw_tokens());
        assert_eq!(
            s.authenticate(b"\0alice\0nope", &creds, now).unwrap_err(),
            SaslFailure::Message("Authentication failed: Invalid username or password".into())
        );
        assert!(matches!(s.admits(3, now), Admission::Close(_)));

        let mut s = SaslSession::new(config(0));
        assert_eq!(
            s.handshake("GSSAPI", 1),
            Err(HandshakeRefusal::UnsupportedMechanism)
        );
        assert_eq!(
            plain(b"\0\0pw", &BTreeMap::new()).unwrap_err().to_string(),
            "Authentication failed: username not specified"
        );
    }

    #[test]
    fn sasl_users_verify_plain_and_scram_passwords() {
        let creds = Creds(ScramCredential::from_password(
            ScramMechanism::Sha512,
            "s3cret",
            4096,
        ));
        let users = SaslUsers::new(vec![config(0)]);
        assert!(users.configured());
        let name = |p: Option<KafkaPrincipal>| p.map(|p| p.to_string());
        assert_eq!(
            name(users.verify("alice", "pw", &creds)),
            Some("User:alice".into())
        );
        assert_eq!(
            name(users.verify("guardian", "s3cret", &creds)),
            Some("User:guardian".into())
        );
        for (u, p) in [
            ("alice", "nope"),
            ("guardian", "pw"),
            ("nobody", "s3cret"),
            ("", "pw"),
            ("alice", ""),
            ("alice\0x", "pw"),
        ] {
            assert_eq!(users.verify(u, p, &creds), None, "{u}");
        }
        // A mechanism no listener enables does not sign anyone in.
        let only_plain = SaslUsers::new(vec![Arc::new(SaslServerConfig {
            mechanisms: vec![Mechanism::Plain],
            plain_users: BTreeMap::new(),
            max_reauth_ms: 0,
            max_receive_size: 1024,
        })]);
        assert_eq!(only_plain.verify("guardian", "s3cret", &creds), None);
        assert!(!SaslUsers::default().configured());
    }

    #[test]
    fn scram_and_reauthentication() {
        let creds = Creds(ScramCredential::from_password(
            ScramMechanism::Sha512,
            "s3cret",
            4096,
        ));
        let now = Instant::now();
        let mut s = SaslSession::new(config(1000));
        let run = |s: &mut SaslSession, user: &str, pw: &str| {
            s.handshake("SCRAM-SHA-512", 1)?;
            let mut c = ScramClient::new(ScramMechanism::Sha512, user, pw);
            let first = s
                .authenticate(&c.first(), &creds, now)
                .map_err(|_| HandshakeRefusal::IllegalState)?;
            let fin = c.respond(&first.token).unwrap();
            s.authenticate(&fin, &creds, now)
                .map_err(|_| HandshakeRefusal::IllegalState)
        };
        let done = run(&mut s, "guardian", "s3cret").unwrap();
        assert_eq!(done.authenticated.unwrap().1, 1000);
        assert_eq!(s.admits(3, now), Admission::Serve);
        let later = now + Duration::from_millis(1500);
        assert_eq!(s.admits(3, later), Admission::Expired);
        assert_eq!(s.admits(SASL_HANDSHAKE, later), Admission::Serve);
        // Re-authentication with the same user works.
        run(&mut s, "guardian", "s3cret").unwrap();
        // A wrong password fails with Kafka's generic message.
        let mut s = SaslSession::new(config(0));
        s.handshake("SCRAM-SHA-512", 1).unwrap();
        let mut c = ScramClient::new(ScramMechanism::Sha512, "guardian", "bad");
        let first = s.authenticate(&c.first(), &creds, now).unwrap();
        let err = s
            .authenticate(&c.respond(&first.token).unwrap(), &creds, now)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
        );
    }
}

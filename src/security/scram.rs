//! SCRAM (RFC 5802, RFC 7677) as Kafka uses it: SCRAM-SHA-256 and
//! SCRAM-SHA-512, credentials stored as Kafka's `ScramCredentialUtils`
//! writes them (`salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>`,
//! standard base64), the server's two steps and the client's.
//!
//! Invariants: the server compares the client proof in constant time and
//! answers an unknown user and a wrong password alike; a credential is only
//! ever built from a salted password (the password itself is not kept).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// A SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

/// Kafka's `ScramMechanism` minimum iterations.
pub const MIN_ITERATIONS: i32 = 4096;
/// The most iterations AlterUserScramCredentials accepts (Kafka's limit).
pub const MAX_ITERATIONS: i32 = 16384;

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// `SCRAM-SHA-256` / `SCRAM-SHA-512`.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The mechanism's id in Describe/AlterUserScramCredentials (1, 2).
    pub fn type_id(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_type_id(id: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.type_id() == id)
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                // HMAC takes keys of any length: the error case cannot happen.
                <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
                    .unwrap_or_default()
            }
            ScramMechanism::Sha512 => {
                // HMAC takes keys of any length: the error case cannot happen.
                <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .map(|m| m.chain_update(data).finalize().into_bytes().to_vec())
                    .unwrap_or_default()
            }
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// `Hi(password, salt, iterations)`: PBKDF2 with the mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// One user's stored credential for one mechanism.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

/// A stored credential that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SCRAM credential: {0}")]
pub struct BadCredential(pub String);

impl ScramCredential {
    /// From a salted password (what AlterUserScramCredentials carries).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// From a password, with a fresh random salt.
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &str,
        iterations: i32,
    ) -> ScramCredential {
        let salt = random_bytes(32);
        let salted = mechanism.salted_password(
            password.as_bytes(),
            &salt,
            u32::try_from(iterations).unwrap_or(4096),
        );
        ScramCredential::from_salted_password(mechanism, &salt, &salted, iterations)
    }

    /// Whether `password` is this credential's: the salted password derived
    /// with the stored salt and iterations gives the stored key (compared in
    /// constant time). What the server's proof check establishes, for a
    /// caller that holds the password itself (the web console's sign-in).
    pub fn verify_password(&self, mechanism: ScramMechanism, password: &str) -> bool {
        let Ok(iterations) = u32::try_from(self.iterations) else {
            return false;
        };
        if iterations == 0 {
            return false;
        }
        let salted = mechanism.salted_password(password.as_bytes(), &self.salt, iterations);
        let derived =
            ScramCredential::from_salted_password(mechanism, &self.salt, &salted, self.iterations);
        constant_time_eq(&derived.stored_key, &self.stored_key)
    }

    /// Kafka's stored form.
    pub fn to_kafka_string(&self) -> String {
        format!(
            "salt={},stored_key={},server_key={},iterations={}",
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key),
            self.iterations
        )
    }

    /// Parses Kafka's stored form (keys in any order).
    pub fn parse(s: &str) -> Result<ScramCredential, BadCredential> {
        let (mut salt, mut stored, mut server, mut iterations) = (None, None, None, None);
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| BadCredential(format!("`{part}` is not key=value")))?;
            let b64 = |v: &str| {
                B64.decode(v.trim())
                    .map_err(|_| BadCredential(format!("{k} is not base64")))
            };
            match k.trim() {
                "salt" => salt = Some(b64(v)?),
                "stored_key" => stored = Some(b64(v)?),
                "server_key" => server = Some(b64(v)?),
                "iterations" => {
                    iterations = Some(
                        v.trim()
                            .parse::<i32>()
                            .map_err(|_| BadCredential("iterations is not a number".into()))?,
                    )
                }
                _ => {}
            }
        }
        match (salt, stored, server, iterations) {
            (Some(salt), Some(stored_key), Some(server_key), Some(iterations)) => {
                Ok(ScramCredential {
                    salt,
                    stored_key,
                    server_key,
                    iterations,
                })
            }
            _ => Err(BadCredential(
                "salt, stored_key, server_key and iterations are all required".into(),
            )),
        }
    }
}

/// A fresh 32-byte salt (as Kafka's `ScramFormatter.secureRandomBytes`).
pub fn random_salt() -> Vec<u8> {
    random_bytes(32)
}

pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut v);
    v
}

fn nonce() -> String {
    // Printable, without ',' (RFC 5802's `printable`): hex of random bytes.
    random_bytes(16)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a SCRAM exchange failed. `Invalid` is what a client may learn (the
/// detail is for the log only); the protocol edge turns every failure into
/// Kafka's generic "invalid credentials" message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(String),
    #[error("invalid credentials: {0}")]
    Invalid(&'static str),
}

fn attrs(msg: &str) -> impl Iterator<Item = (char, &str)> {
    msg.split(',').filter_map(|p| {
        let mut c = p.chars();
        let k = c.next()?;
        p.get(1..)?.strip_prefix('=').map(|v| (k, v))
    })
}

fn attr(msg: &str, key: char) -> Option<&str> {
    attrs(msg).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// RFC 5802 `saslname` decoding (`=2C` → `,`, `=3D` → `=`).
fn decode_saslname(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad escape in user name".into())),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

enum ServerState {
    First,
    Final {
        user: String,
        credential: Option<ScramCredential>,
        client_first_bare: String,
        server_first: String,
        server_part: String,
        gs2_header: String,
    },
    Done,
}

/// The server side of one SCRAM exchange.
pub struct ScramServer {
    mechanism: ScramMechanism,
    state: ServerState,
}

/// A server step's outcome.
pub enum ServerStep {
    /// Send this and wait for the client's next message.
    Continue(Vec<u8>),
    /// Authenticated as this user; send the final message.
    Done { user: String, last: Vec<u8> },
}

impl ScramServer {
    pub fn new(mechanism: ScramMechanism) -> ScramServer {
        ScramServer {
            mechanism,
            state: ServerState::First,
        }
    }

    /// Feeds the client's message. `lookup` finds a user's credential.
    pub fn step(
        &mut self,
        token: &[u8],
        lookup: &dyn Fn(&str) -> Option<ScramCredential>,
    ) -> Result<ServerStep, ScramError> {
        let msg =
            std::str::from_utf8(token).map_err(|_| ScramError::Malformed("not UTF-8".into()))?;
        match std::mem::replace(&mut self.state, ServerState::Done) {
            ServerState::First => {
                // gs2-header: "n,," or "y,," or "n,a=authzid,"
                let mut parts = msg.splitn(3, ',');
                let cbind = parts.next().unwrap_or("");
                let authzid = parts.next().unwrap_or("");
                let bare = parts
                    .next()
                    .ok_or_else(|| ScramError::Malformed("no client-first-message-bare".into()))?;
                if !matches!(cbind, "n" | "y") {
                    return Err(ScramError::Malformed(
                        "channel binding is not supported".into(),
                    ));
                }
                let user = decode_saslname(
                    attr(bare, 'n').ok_or_else(|| ScramError::Malformed("no user name".into()))?,
                )?;
                if let Some(a) = authzid.strip_prefix("a=") {
                    if decode_saslname(a)? != user {
                        return Err(ScramError::Invalid(
                            "authorization id differs from user name",
                        ));
                    }
                }
                let client_nonce =
                    attr(bare, 'r').ok_or_else(|| ScramError::Malformed("no nonce".into()))?;
                let credential = lookup(&user);
                // An unknown user goes on with a made-up salt, so the exchange
                // looks alike until the proof fails.
                let (salt, iterations) = match &credential {
                    Some(c) => (c.salt.clone(), c.iterations),
                    None => (random_bytes(32), MIN_ITERATIONS),
                };
                let server_part = self::nonce();
                let nonce = format!("{client_nonce}{server_part}");
                let server_first = format!("r={nonce},s={},i={iterations}", B64.encode(&salt));
                let gs2_header = format!("{cbind},{authzid},");
                self.state = ServerState::Final {
                    user,
                    credential,
                    client_first_bare: bare.to_string(),
                    server_first: server_first.clone(),
                    server_part,
                    gs2_header,
                };
                Ok(ServerStep::Continue(server_first.into_bytes()))
            }
            ServerState::Final {
                user,
                credential,
                client_first_bare,
                server_first,
                server_part,
                gs2_header,
            } => {
                let proof_at = msg
                    .rfind(",p=")
                    .ok_or_else(|| ScramError::Malformed("no proof".into()))?;
                let without_proof = &msg[..proof_at];
                let proof = B64
                    .decode(&msg[proof_at + 3..])
                    .map_err(|_| ScramError::Malformed("proof is not base64".into()))?;
                // Kafka's check: the final nonce ends with the server's part
                // (librdkafka before 2.x sends the client nonce twice).
                if !attr(without_proof, 'r').is_some_and(|r| r.ends_with(server_part.as_str())) {
                    return Err(ScramError::Invalid("nonce mismatch"));
                }
                let cbind = attr(without_proof, 'c')
                    .and_then(|c| B64.decode(c).ok())
                    .ok_or_else(|| ScramError::Malformed("no channel binding".into()))?;
                if cbind != gs2_header.as_bytes() {
                    return Err(ScramError::Invalid("channel binding mismatch"));
                }
                let credential = credential.ok_or(ScramError::Invalid("unknown user"))?;
                let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
                let m = self.mechanism;
                let client_signature = m.hmac(&credential.stored_key, auth_message.as_bytes());
                let client_key = xor(&proof, &client_signature);
                if proof.len() != client_signature.len()
                    || !constant_time_eq(&m.hash(&client_key), &credential.stored_key)
                {
                    return Err(ScramError::Invalid("invalid client proof"));
                }
                let server_signature = m.hmac(&credential.server_key, auth_message.as_bytes());
                Ok(ServerStep::Done {
                    user,
                    last: format!("v={}", B64.encode(server_signature)).into_bytes(),
                })
            }
            ServerState::Done => Err(ScramError::Malformed("exchange already complete".into())),
        }
    }
}

/// The client side of one SCRAM exchange (strom's tools).
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: String,
    client_first_bare: String,
    nonce: String,
    server_signature: Vec<u8>,
}

impl ScramClient {
    /// Starts an exchange; [`Self::first`] is the first message to send.
    pub fn new(mechanism: ScramMechanism, user: &str, password: &str) -> ScramClient {
        let nonce = nonce();
        ScramClient {
            mechanism,
            password: password.to_string(),
            client_first_bare: format!("n={},r={nonce}", encode_saslname(user)),
            nonce,
            server_signature: Vec::new(),
        }
    }

    pub fn first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// The client-final message for the server's first message.
    pub fn respond(&mut self, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let sf = std::str::from_utf8(server_first)
            .map_err(|_| ScramError::Malformed("not UTF-8".into()))?;
        let nonce = attr(sf, 'r').ok_or_else(|| ScramError::Malformed("no nonce".into()))?;
        if !nonce.starts_with(&self.nonce) {
            return Err(ScramError::Invalid("server nonce does not extend ours"));
        }
        let salt = attr(sf, 's')
            .and_then(|s| B64.decode(s).ok())
            .ok_or_else(|| ScramError::Malformed("no salt".into()))?;
        let iterations: u32 = attr(sf, 'i')
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| ScramError::Malformed("no iteration count".into()))?;
        let m = self.mechanism;
        let salted = m.salted_password(self.password.as_bytes(), &salt, iterations);
        let client_key = m.hmac(&salted, b"Client Key");
        let stored_key = m.hash(&client_key);
        let without_proof = format!("c={},r={nonce}", B64.encode("n,,"));
        let auth_message = format!("{},{sf},{without_proof}", self.client_first_bare);
        let client_signature = m.hmac(&stored_key, auth_message.as_bytes());
        let proof = xor(&client_key, &client_signature);
        let server_key = m.hmac(&salted, b"Server Key");
        self.server_signature = m.hmac(&server_key, auth_message.as_bytes());
        Ok(format!("{without_proof},p={}", B64.encode(proof)).into_bytes())
    }

    /// Checks the server's final message.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let sf = std::str::from_utf8(server_final)
            .map_err(|_| ScramError::Malformed("not UTF-8".into()))?;
        if let Some(e) = attr(sf, 'e') {
            return Err(ScramError::Malformed(format!("server error {e}")));
        }
        let v = attr(sf, 'v')
            .and_then(|v| B64.decode(v).ok())
            .ok_or_else(|| ScramError::Malformed("no server signature".into()))?;
        if constant_time_eq(&v, &self.server_signature) {
            Ok(())
        } else {
            Err(ScramError::Invalid("server signature mismatch"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7677_sha256_vector() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let m = ScramMechanism::Sha256;
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let cred = ScramCredential::from_salted_password(m, &salt, &salted, 4096);
        let client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first =
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let client_key = m.hmac(&salted, b"Client Key");
        let proof = xor(&client_key, &m.hmac(&cred.stored_key, auth.as_bytes()));
        assert_eq!(
            B64.encode(proof),
            "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let server_sig = m.hmac(&cred.server_key, auth.as_bytes());
        assert_eq!(
            B64.encode(server_sig),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn client_and_server_agree_and_wrong_passwords_fail() {
        for m in ScramMechanism::ALL {
            let stored = ScramCredential::from_password(m, "s3cret", 4096);
            let text = stored.to_kafka_string();
            assert!(text.starts_with("salt=") && text.ends_with(",iterations=4096"));
            assert_eq!(ScramCredential::parse(&text).unwrap(), stored);
            let lookup = |u: &str| (u == "al,ice").then(|| stored.clone());
            for (password, ok) in [("s3cret", true), ("wrong", false)] {
                let mut client = ScramClient::new(m, "al,ice", password);
                let mut server = ScramServer::new(m);
                let ServerStep::Continue(sf) = server.step(&client.first(), &lookup).unwrap()
                else {
                    panic!("one step too early")
                };
                let cf = client.respond(&sf).unwrap();
                match server.step(&cf, &lookup) {
                    Ok(ServerStep::Done { user, last }) => {
                        assert!(ok);
                        assert_eq!(user, "al,ice");
                        client.verify(&last).unwrap();
                    }
                    Err(ScramError::Invalid(_)) => assert!(!ok),
                    _ => panic!("unexpected step"),
                }
            }
            // An unknown user fails only at the proof.
            let mut client = ScramClient::new(m, "bob", "x");
            let mut server = ScramServer::new(m);
            let ServerStep::Continue(sf) = server.step(&client.first(), &lookup).unwrap() else {
                panic!()
            };
            let cf = client.respond(&sf).unwrap();
            assert_eq!(
                server.step(&cf, &lookup).err(),
                Some(ScramError::Invalid("unknown user"))
            );
        }
    }

    #[test]
    fn a_password_verifies_against_its_stored_credential() {
        for m in ScramMechanism::ALL {
            let stored = ScramCredential::from_password(m, "s3cret", 4096);
            assert!(stored.verify_password(m, "s3cret"));
            assert!(!stored.verify_password(m, "s3cret "));
            assert!(!stored.verify_password(m, ""));
            let broken = ScramCredential {
                iterations: 0,
                ..stored.clone()
            };
            assert!(!broken.verify_password(m, "s3cret"));
        }
        // The RFC 7677 vector's credential takes "pencil".
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let m = ScramMechanism::Sha256;
        let cred = ScramCredential::from_salted_password(
            m,
            &salt,
            &m.salted_password(b"pencil", &salt, 4096),
            4096,
        );
        assert!(cred.verify_password(m, "pencil"));
        assert!(!cred.verify_password(ScramMechanism::Sha512, "pencil"));
    }

    #[test]
    fn bad_credentials_and_messages_are_errors() {
        assert!(ScramCredential::parse("salt=AA==,iterations=1").is_err());
        assert!(
            ScramCredential::parse("salt=!!,stored_key=AA==,server_key=AA==,iterations=1").is_err()
        );
        let mut server = ScramServer::new(ScramMechanism::Sha512);
        assert!(server.step(b"p=tls-unique,,n=a,r=x", &|_| None).is_err());
        assert!(ScramServer::new(ScramMechanism::Sha512)
            .step(b"\xff", &|_| None)
            .is_err());
        assert_eq!(decode_saslname("a=2Cb=3D").unwrap(), "a,b=");
        assert!(decode_saslname("a=zz").is_err());
    }
}

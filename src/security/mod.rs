//! Kafka's security protocols on strom's listeners: TLS (rustls) and SASL
//! (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), for the broker and for strom's own
//! client. Imports only `principal`.
//!
//! - `tls`: PEM keystores and truststores as Kafka ≥ 2.7 reads them
//!   (`ssl.keystore.type=PEM`, a file or inline PEM), `ssl.client.auth`,
//!   `ssl.enabled.protocols`, `ssl.cipher.suites`; the server config is
//!   swapped in place when the files change on disk ([`tls::TlsServer::reload_if_changed`]).
//! - `mapping`: the client certificate's distinguished name in RFC 2253 form
//!   and Kafka's `ssl.principal.mapping.rules`.
//! - `jaas`: Kafka's JAAS syntax (`sasl.jaas.config`).
//! - `scram`: RFC 5802 SCRAM with Kafka's stored credential format
//!   (`salt=…,stored_key=…,server_key=…,iterations=…`), server and client sides.
//! - `sasl`: one connection's SASL state (Kafka's `SaslServerAuthenticator`):
//!   handshake, authenticate, KIP-368 session expiry, which requests are
//!   admitted in each state.
//!
//! Invariants: no secret (password, salted password, key) is ever logged or
//! put in an error sent to a client; a failed authentication never tells the
//! client whether the user exists.

pub mod jaas;
pub mod mapping;
pub mod sasl;
pub mod scram;
pub mod tls;

/// Kafka's `SecurityProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name (`SASL_SSL`), case-insensitive.
    pub fn from_name(name: &str) -> Option<SecurityProtocol> {
        match name.to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Some(SecurityProtocol::Plaintext),
            "SSL" => Some(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Some(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Some(SecurityProtocol::SaslSsl),
            _ => None,
        }
    }

    /// Kafka's name.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the transport is TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether clients authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// A security setting that cannot be used; names the property at fault.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("{key}: {reason}")]
    Config { key: String, reason: String },
    #[error("{key}: cannot read {path}: {source}")]
    Read {
        key: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl SecurityError {
    pub(crate) fn config(key: &str, reason: impl Into<String>) -> SecurityError {
        SecurityError::Config {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

/// Properties by Kafka name, as the broker's listener sees them
/// (`listener.name.<l>.<name>` over `<name>`) or a client's properties file.
pub trait Props {
    /// The value of `name`, `None` when unset or empty.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Props for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

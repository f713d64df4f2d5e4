//! The client's security, from Kafka's client property names (a
//! `--command-config` / `client.properties` file): `security.protocol`,
//! `sasl.mechanism` with `sasl.jaas.config` (PlainLoginModule or
//! ScramLoginModule `username`/`password`) or librdkafka's
//! `sasl.username`/`sasl.password`, `ssl.truststore.location` and the
//! `ssl.keystore.*` PEM settings for a client certificate.
//!
//! One setting per process ([`set_default`]), read by every
//! [`super::Connection`]: every tool and `strom perf` get it without a
//! parameter of their own.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::security::jaas;
use crate::security::sasl::Mechanism;
use crate::security::SecurityProtocol;

use super::ClientError;

/// What a connection does beyond TCP.
#[derive(Clone)]
pub struct ClientSecurity {
    pub protocol: SecurityProtocol,
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Mechanism, user name, password.
    pub sasl: Option<(Mechanism, String, String)>,
}

impl std::fmt::Debug for ClientSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecurity")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl.as_ref().map(|(m, u, _)| (m.name(), u)))
            .finish()
    }
}

static DEFAULT: OnceLock<ClientSecurity> = OnceLock::new();

/// Sets the process's client security (once; later calls are ignored).
pub fn set_default(security: ClientSecurity) {
    let _ = DEFAULT.set(security);
}

/// The process's client security: PLAINTEXT unless [`set_default`] said otherwise.
pub fn current() -> ClientSecurity {
    DEFAULT.get().cloned().unwrap_or(ClientSecurity {
        protocol: SecurityProtocol::Plaintext,
        tls: None,
        sasl: None,
    })
}

fn bad(msg: impl Into<String>) -> ClientError {
    ClientError::Security(msg.into())
}

/// Parses a Java properties file: `k=v` or `k: v`, `#`/`!` comments, a
/// trailing `\` continues the line.
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with('!')) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let at = full.find(['=', ':']);
        if let Some(i) = at {
            let (k, v) = (full[..i].trim(), full[i + 1..].trim());
            if !k.is_empty() {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

impl ClientSecurity {
    /// From Kafka client properties.
    pub fn from_properties(
        props: &BTreeMap<String, String>,
    ) -> Result<ClientSecurity, ClientError> {
        let get = |k: &str| props.get(k).filter(|v| !v.trim().is_empty()).cloned();
        let name = get("security.protocol").unwrap_or_else(|| "PLAINTEXT".into());
        let protocol = SecurityProtocol::from_name(&name)
            .ok_or_else(|| bad(format!("security.protocol: unknown protocol {name}")))?;
        let tls = if protocol.uses_tls() {
            let lookup = |k: &str| get(k);
            Some(crate::security::tls::client_config(&lookup).map_err(|e| bad(e.to_string()))?)
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            let mech_name = get("sasl.mechanism").unwrap_or_else(|| "GSSAPI".into());
            let mechanism = Mechanism::from_name(mech_name.trim()).ok_or_else(|| {
                bad(format!(
                    "sasl.mechanism: strom's client speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, not {mech_name}"
                ))
            })?;
            let (user, password) = match (get("sasl.username"), get("sasl.password")) {
                (Some(u), Some(p)) => (u, p),
                _ => {
                    let text = get("sasl.jaas.config").ok_or_else(|| {
                        bad("SASL needs sasl.jaas.config (username=\"…\" password=\"…\") or sasl.username and sasl.password")
                    })?;
                    let modules =
                        jaas::parse(&text).map_err(|e| bad(format!("sasl.jaas.config: {e}")))?;
                    jaas::username_password(&modules).ok_or_else(|| {
                        bad("sasl.jaas.config: needs username and password options")
                    })?
                }
            };
            Some((mechanism, user, password))
        } else {
            None
        };
        Ok(ClientSecurity {
            protocol,
            tls,
            sasl,
        })
    }

    /// From a properties file.
    pub fn from_file(path: &Path) -> Result<ClientSecurity, ClientError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        ClientSecurity::from_properties(&parse_properties(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_files_and_sasl_settings() {
        let props = parse_properties(
            "# comment\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism = SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"guardian\" password=\"pw=1\";\n",
        );
        assert_eq!(
            props.get("sasl.mechanism").map(String::as_str),
            Some("SCRAM-SHA-512")
        );
        let s = ClientSecurity::from_properties(&props).unwrap();
        assert_eq!(s.protocol, SecurityProtocol::SaslPlaintext);
        let (m, u, p) = s.sasl.unwrap();
        assert_eq!(
            (m.name(), u.as_str(), p.as_str()),
            ("SCRAM-SHA-512", "guardian", "pw=1")
        );
        let mut props = BTreeMap::new();
        props.insert("security.protocol".to_string(), "SASL_SSL".to_string());
        props.insert("sasl.mechanism".to_string(), "PLAIN".to_string());
        props.insert("sasl.username".to_string(), "a".to_string());
        props.insert("sasl.password".to_string(), "b".to_string());
        // SSL without a truststore: the error names the property.
        let e = ClientSecurity::from_properties(&props).unwrap_err();
        assert!(e.to_string().contains("ssl.truststore.location"), "{e}");
    }
}

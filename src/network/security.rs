//! A listener's security protocol as the network layer applies it: the
//! TLS server config (and its reload task), the SASL settings each
//! connection's session starts from, and the principal of a TLS client
//! certificate. Built once per listener at start-up from the broker
//! configuration (`listener.name.<l>.…` over the broker-wide values).

use std::sync::Arc;
use std::time::Duration;

use crate::config::BrokerConfig;
use crate::principal::KafkaPrincipal;
use crate::security::jaas;
use crate::security::mapping::{subject_dn, PrincipalMapper};
use crate::security::sasl::{Mechanism, SaslServerConfig};
use crate::security::tls::TlsServer;
use crate::security::{SecurityError, SecurityProtocol};

/// How often a TLS listener looks at its keystore and truststore files.
pub const TLS_RELOAD_POLL: Duration = Duration::from_secs(1);

/// Longest a TLS handshake may take (also bounded by `connections.max.idle.ms`).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One listener's security.
pub struct ListenerSecurity {
    pub protocol: SecurityProtocol,
    pub tls: Option<Arc<TlsServer>>,
    pub sasl: Option<Arc<SaslServerConfig>>,
    mapper: PrincipalMapper,
}

impl ListenerSecurity {
    /// A PLAINTEXT listener.
    pub fn plaintext() -> ListenerSecurity {
        ListenerSecurity {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
            mapper: PrincipalMapper::default_rules(),
        }
    }

    /// Reads `listener`'s security settings (and its PEM files: blocking).
    pub fn from_config(
        config: &BrokerConfig,
        listener: &str,
    ) -> Result<ListenerSecurity, SecurityError> {
        let protocol = SecurityProtocol::from_name(config.security_protocol(listener))
            .unwrap_or(SecurityProtocol::Plaintext);
        let props = |name: &str| config.listener_value(listener, name);
        let tls = if protocol.uses_tls() {
            Some(Arc::new(TlsServer::from_props(&props)?))
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            Some(Arc::new(sasl_config(config, listener)?))
        } else {
            None
        };
        let mapper = PrincipalMapper::parse(
            &props("ssl.principal.mapping.rules").unwrap_or_else(|| "DEFAULT".into()),
        )?;
        Ok(ListenerSecurity {
            protocol,
            tls,
            sasl,
            mapper,
        })
    }

    /// The principal of a TLS client on an SSL listener: its certificate's DN
    /// through `ssl.principal.mapping.rules`; ANONYMOUS without a
    /// certificate; `None` when no rule matches (the connection is refused).
    pub fn tls_principal(&self, peer_certificate: Option<&[u8]>) -> Option<KafkaPrincipal> {
        let Some(der) = peer_certificate else {
            return Some(KafkaPrincipal::anonymous());
        };
        let dn = subject_dn(der)?;
        self.mapper.name(&dn).map(KafkaPrincipal::user)
    }
}

fn sasl_config(config: &BrokerConfig, listener: &str) -> Result<SaslServerConfig, SecurityError> {
    let props = |name: &str| {
        config
            .listener_value(listener, name)
            .filter(|v| !v.trim().is_empty())
    };
    let enabled = props("sasl.enabled.mechanisms").unwrap_or_default();
    let mut mechanisms = Vec::new();
    for name in enabled.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match Mechanism::from_name(name) {
            Some(m) => mechanisms.push(m),
            None => tracing::warn!(
                listener,
                mechanism = name,
                "sasl.enabled.mechanisms: strom serves PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512; ignoring {name}"
            ),
        }
    }
    if mechanisms.is_empty() {
        return Err(SecurityError::config(
            "sasl.enabled.mechanisms",
            format!("listener {listener} enables none of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
        ));
    }
    let mut plain_users = Default::default();
    if mechanisms.contains(&Mechanism::Plain) {
        let key = format!(
            "listener.name.{}.plain.sasl.jaas.config",
            listener.to_ascii_lowercase()
        );
        let text = props("plain.sasl.jaas.config")
            .or_else(|| props("sasl.jaas.config"))
            .ok_or_else(|| {
                SecurityError::config(
                    &key,
                    "PLAIN needs a JAAS config with user_<name>=\"<password>\" entries",
                )
            })?;
        let modules = jaas::parse(&text).map_err(|reason| SecurityError::config(&key, reason))?;
        if !modules.iter().any(|m| m.class == jaas::PLAIN_LOGIN_MODULE) {
            return Err(SecurityError::config(
                &key,
                format!("expected {}", jaas::PLAIN_LOGIN_MODULE),
            ));
        }
        plain_users = jaas::plain_users(&modules);
    }
    for m in &mechanisms {
        if let Mechanism::Scram(s) = m {
            let name = format!("{}.sasl.jaas.config", s.name().to_ascii_lowercase());
            if let Some(text) = props(&name) {
                jaas::parse(&text).map_err(|reason| {
                    SecurityError::config(
                        &format!("listener.name.{}.{name}", listener.to_ascii_lowercase()),
                        reason,
                    )
                })?;
            }
        }
    }
    let max_reauth_ms = props("connections.max.reauth.ms")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let max_receive_size = props("sasl.server.max.receive.size")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(524_288);
    Ok(SaslServerConfig {
        mechanisms,
        plain_users,
        max_reauth_ms,
        max_receive_size,
    })
}

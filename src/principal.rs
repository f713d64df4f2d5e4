//! Kafka's `KafkaPrincipal`: who a connection is, as `Type:name`
//! (`User:alice`). A leaf: imports nothing from strom.
//!
//! Every connection starts as `User:ANONYMOUS`, as Kafka's PLAINTEXT
//! listeners see their clients; TLS client certificates (through
//! `ssl.principal.mapping.rules`) and SASL authentication replace it.

use std::fmt;
use std::str::FromStr;

/// Kafka's principal type for users (`KafkaPrincipal.USER_TYPE`).
pub const USER_TYPE: &str = "User";
/// The user name of unauthenticated clients (`KafkaPrincipal.ANONYMOUS`).
pub const ANONYMOUS_NAME: &str = "ANONYMOUS";

/// A principal: its type (`User`, or another type a principal builder uses)
/// and its name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    pub principal_type: String,
    pub name: String,
}

impl KafkaPrincipal {
    /// `User:<name>`.
    pub fn user(name: impl Into<String>) -> KafkaPrincipal {
        KafkaPrincipal {
            principal_type: USER_TYPE.to_string(),
            name: name.into(),
        }
    }

    /// `User:ANONYMOUS`.
    pub fn anonymous() -> KafkaPrincipal {
        KafkaPrincipal::user(ANONYMOUS_NAME)
    }

    /// Whether this is `User:ANONYMOUS`.
    pub fn is_anonymous(&self) -> bool {
        self.principal_type == USER_TYPE && self.name == ANONYMOUS_NAME
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

/// A principal string that is not `Type:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {0:?} is not of the form Type:name (e.g. User:alice)")]
pub struct BadPrincipal(pub String);

impl FromStr for KafkaPrincipal {
    type Err = BadPrincipal;

    /// Kafka's `SecurityUtils.parseKafkaPrincipal`: split at the first `:`.
    fn from_str(s: &str) -> Result<KafkaPrincipal, BadPrincipal> {
        match s.split_once(':') {
            Some((t, n)) if !t.is_empty() && !n.is_empty() => Ok(KafkaPrincipal {
                principal_type: t.to_string(),
                name: n.to_string(),
            }),
            _ => Err(BadPrincipal(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_type_and_name() {
        let p: KafkaPrincipal = "User:CN=host,O=lab".parse().unwrap();
        assert_eq!(p.principal_type, "User");
        assert_eq!(p.name, "CN=host,O=lab");
        assert_eq!(p.to_string(), "User:CN=host,O=lab");
        assert!(KafkaPrincipal::anonymous().is_anonymous());
        assert_eq!(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
        assert!("alice".parse::<KafkaPrincipal>().is_err());
        assert!("User:".parse::<KafkaPrincipal>().is_err());
    }
}

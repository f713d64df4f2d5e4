//! Parsing of `listeners`, `advertised.listeners` and `listener.security.protocol.map`.

use std::collections::BTreeMap;

use super::{ConfigError, Listener};

impl Listener {
    /// `host:port` as a socket address string (`[::1]:9092`, `:9092` for all interfaces).
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.name, self.host, self.port)
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Parses one `NAME://host:port`. The name is upper-cased; an IPv6 host keeps its brackets.
pub(crate) fn parse_listener(key: &str, spec: &str) -> Result<Listener, ConfigError> {
    let spec = spec.trim();
    let (name, rest) = spec
        .split_once("://")
        .ok_or_else(|| invalid(key, spec, "expected NAME://host:port"))?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        return Err(invalid(
            key,
            spec,
            format!("invalid listener name {name:?}"),
        ));
    }
    let (host, port) = if rest.starts_with('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| invalid(key, spec, "unterminated IPv6 address"))?;
        let (host, after) = rest.split_at(end + 1);
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| invalid(key, spec, "expected NAME://host:port"))?;
        (host, port)
    } else {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid(key, spec, "expected NAME://host:port"))?;
        if host.contains(':') {
            return Err(invalid(
                key,
                spec,
                "IPv6 addresses must be in brackets, e.g. [::1]",
            ));
        }
        (host, port)
    };
    if host.contains(['/', ' ', '@']) {
        return Err(invalid(key, spec, format!("invalid host {host:?}")));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid(key, spec, format!("invalid port {port:?} (0-65535)")))?;
    Ok(Listener {
        name: name.to_ascii_uppercase(),
        host: host.to_string(),
        port,
    })
}

/// Parses a comma list of listeners, refusing duplicate names (and, when
/// `distinct_ports`, duplicate non-zero ports on overlapping addresses).
pub(crate) fn parse_listeners(
    key: &str,
    value: &str,
    distinct_ports: bool,
) -> Result<Vec<Listener>, ConfigError> {
    let mut out: Vec<Listener> = Vec::new();
    for spec in super::props::list_items(value) {
        let l = parse_listener(key, spec)?;
        if out.iter().any(|o| o.name == l.name) {
            return Err(invalid(
                key,
                value,
                format!("listener name {} is used more than once", l.name),
            ));
        }
        if distinct_ports && l.port != 0 && out.iter().any(|o| o.port == l.port) {
            return Err(invalid(
                key,
                value,
                format!("port {} is used by more than one listener", l.port),
            ));
        }
        out.push(l);
    }
    Ok(out)
}

/// Parses `NAME:PROTOCOL,...`, both upper-cased.
pub(crate) fn parse_protocol_map(
    key: &str,
    value: &str,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut map = BTreeMap::new();
    for item in super::props::list_items(value) {
        let (name, proto) = item
            .split_once(':')
            .ok_or_else(|| invalid(key, value, format!("expected NAME:PROTOCOL, got {item:?}")))?;
        let (name, proto) = (
            name.trim().to_ascii_uppercase(),
            proto.trim().to_ascii_uppercase(),
        );
        if name.is_empty() {
            return Err(invalid(
                key,
                value,
                format!("empty listener name in {item:?}"),
            ));
        }
        if !["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&proto.as_str()) {
            return Err(invalid(
                key,
                value,
                format!("unknown security protocol {proto}"),
            ));
        }
        if map.insert(name.clone(), proto).is_some() {
            return Err(invalid(
                key,
                value,
                format!("listener name {name} is mapped more than once"),
            ));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, host: &str, port: u16) -> Listener {
        Listener {
            name: name.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_listener_forms() {
        assert_eq!(
            parse_listener("listeners", "PLAINTEXT://:9092").unwrap(),
            l("PLAINTEXT", "", 9092)
        );
        assert_eq!(
            parse_listener("listeners", "external://0.0.0.0:9092").unwrap(),
            l("EXTERNAL", "0.0.0.0", 9092)
        );
        assert_eq!(
            parse_listener("listeners", "A://[::1]:9093").unwrap(),
            l("A", "[::1]", 9093)
        );
        assert_eq!(
            parse_listener("listeners", " B://kafka.local:0 ").unwrap(),
            l("B", "kafka.local", 0)
        );
        assert_eq!(l("A", "[::1]", 1).to_string(), "A://[::1]:1");
        for bad in [
            "localhost:9092",
            "A://host",
            "A://host:99999",
            "A://host:x",
            "://h:1",
            "A://::1:9092",
            "A://[::1",
            "A B://h:1",
        ] {
            let e = parse_listener("listeners", bad).unwrap_err();
            assert!(e.to_string().contains("listeners"), "{bad}: {e}");
        }
    }

    #[test]
    fn listener_lists() {
        let ls = parse_listeners("listeners", "A://:9092, b://localhost:29092", true).unwrap();
        assert_eq!(ls, vec![l("A", "", 9092), l("B", "localhost", 29092)]);
        assert!(parse_listeners("listeners", "A://:9092,a://:9093", true).is_err());
        assert!(parse_listeners("listeners", "A://:9092,B://h:9092", true).is_err());
        assert!(parse_listeners("advertised.listeners", "A://h1:9092,B://h2:9092", false).is_ok());
        assert!(parse_listeners("listeners", "A://:0,B://:0", true).is_ok());
    }

    #[test]
    fn protocol_map() {
        let m = parse_protocol_map("m", "external:plaintext,INTERNAL:SSL").unwrap();
        assert_eq!(m.get("EXTERNAL").map(String::as_str), Some("PLAINTEXT"));
        assert_eq!(m.get("INTERNAL").map(String::as_str), Some("SSL"));
        assert!(parse_protocol_map("m", "A:FOO").is_err());
        assert!(parse_protocol_map("m", "A").is_err());
        assert!(parse_protocol_map("m", "A:SSL,a:SSL").is_err());
    }
}

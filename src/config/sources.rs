//! The three sources of broker properties: the TOML file, `KAFKA_*` environment
//! variables (cp-kafka's naming) and `--override name=value`.

use std::collections::BTreeMap;
use std::path::Path;

use super::topics::RawTopic;
use super::ConfigError;

/// `KAFKA_*` variables that configure the JVM or the scripts, not the broker (cp-kafka's list).
const ENV_EXCLUDED: &[&str] = &[
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_DEBUG",
    "KAFKA_HOME",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET",
];
const ENV_EXCLUDED_PREFIXES: &[&str] = &["KAFKA_JMX_", "KAFKA_LOG4J_"];

/// Maps a cp-kafka environment variable name to a broker property name:
/// strip `KAFKA_`, lowercase, `___` → `-`, `__` → `_`, `_` → `.`.
/// `None` for variables that are not broker properties.
pub(crate) fn env_to_property(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KAFKA_")?;
    if rest.is_empty()
        || ENV_EXCLUDED.contains(&var)
        || ENV_EXCLUDED_PREFIXES.iter().any(|p| var.starts_with(p))
    {
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    let mut out = String::with_capacity(lower.len());
    let bytes = lower.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'_' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'_').count();
            // Greedy as cp-kafka's successive replaces: ___ first, then __, then _.
            let mut n = run;
            while n >= 3 {
                out.push('-');
                n -= 3;
            }
            if n == 2 {
                out.push('_');
            } else if n == 1 {
                out.push('.');
            }
            i += run;
        } else {
            let start = i;
            while i < bytes.len() && bytes[i] != b'_' {
                i += 1;
            }
            out.push_str(&lower[start..i]);
        }
    }
    Some(out)
}

/// Broker properties from the environment, skipping (with a debug log) the variables that are not.
pub(crate) fn from_env(
    env: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (var, value) in env {
        if !var.starts_with("KAFKA_") {
            continue;
        }
        match env_to_property(&var) {
            Some(name) => {
                out.insert(name, value);
            }
            None => {
                tracing::debug!(variable = %var, "environment variable is not a broker property; skipped")
            }
        }
    }
    out
}

/// Parses `name=value` overrides; later ones win.
pub(crate) fn from_overrides(
    overrides: &[String],
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for o in overrides {
        let (name, value) = o.split_once('=').ok_or_else(|| ConfigError::InvalidValue {
            key: o.trim().to_string(),
            value: String::new(),
            reason: "an override must be name=value".into(),
        })?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ConfigError::InvalidValue {
                key: o.clone(),
                value: value.to_string(),
                reason: "an override must be name=value".into(),
            });
        }
        out.insert(name.to_string(), value.to_string());
    }
    Ok(out)
}

/// What the TOML file holds.
pub(crate) struct FileConfig {
    /// Broker properties, flattened to Kafka's names.
    pub props: BTreeMap<String, String>,
    /// The `[[topics]]` section (declared topics), defaults not yet applied.
    pub topics: Vec<RawTopic>,
}

/// The top-level key of declared topics: not a broker property.
const TOPICS_KEY: &str = "topics";

/// Reads the TOML file: broker properties flattened to Kafka property names,
/// and the declared topics.
pub(crate) fn from_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    from_text(path, &text)
}

/// The TOML text of the file at `path` (named in errors), as [`from_file`].
pub(crate) fn from_text(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    parse_file(text).map_err(|e| match e {
        FlattenError::Parse(reason) => ConfigError::File {
            path: path.to_path_buf(),
            reason,
        },
        FlattenError::Config(e) => e,
    })
}

pub(crate) enum FlattenError {
    Parse(String),
    Config(ConfigError),
}

/// Parses TOML text: the `topics` section apart, everything else flattened
/// to broker properties.
pub(crate) fn parse_file(text: &str) -> Result<FileConfig, FlattenError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| FlattenError::Parse(e.to_string()))?;
    let topics = match table.remove(TOPICS_KEY) {
        Some(v) => super::topics::parse(&v).map_err(FlattenError::Config)?,
        None => Vec::new(),
    };
    let mut props = BTreeMap::new();
    flatten("", &table, &mut props).map_err(FlattenError::Config)?;
    Ok(FileConfig { props, topics })
}

/// Parses TOML text and flattens nested tables by joining keys with '.'
/// (the broker properties of [`parse_file`]).
#[cfg(test)]
pub(crate) fn from_toml(text: &str) -> Result<BTreeMap<String, String>, FlattenError> {
    parse_file(text).map(|f| f.props)
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let toml::Value::Table(t) = v {
            flatten(&key, t, out)?;
            continue;
        }
        let value = match v {
            toml::Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    parts.push(scalar(&key, item)?);
                }
                parts.join(",")
            }
            other => scalar(&key, other)?,
        };
        if out.insert(key.clone(), value.clone()).is_some() {
            return Err(ConfigError::InvalidValue {
                key,
                value,
                reason: "set more than once in the config file".into(),
            });
        }
    }
    Ok(())
}

fn scalar(key: &str, v: &toml::Value) -> Result<String, ConfigError> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        other => Err(ConfigError::InvalidValue {
            key: key.to_string(),
            value: other.to_string(),
            reason: "expected a string, integer, boolean or float".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        assert_eq!(
            env_to_property("KAFKA_LOG_RETENTION_HOURS").as_deref(),
            Some("log.retention.hours")
        );
        assert_eq!(
            env_to_property("KAFKA_BROKER_ID").as_deref(),
            Some("broker.id")
        );
        assert_eq!(
            env_to_property("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP").as_deref(),
            Some("listener.security.protocol.map")
        );
        assert_eq!(
            env_to_property("KAFKA_FOO__BAR").as_deref(),
            Some("foo_bar")
        );
        assert_eq!(
            env_to_property("KAFKA_FOO___BAR_BAZ").as_deref(),
            Some("foo-bar.baz")
        );
        assert_eq!(env_to_property("KAFKA_A____B").as_deref(), Some("a-.b"));
        assert_eq!(env_to_property("KAFKA_HEAP_OPTS"), None);
        assert_eq!(env_to_property("KAFKA_OPTS"), None);
        assert_eq!(env_to_property("KAFKA_JMX_PORT"), None);
        assert_eq!(env_to_property("KAFKA_LOG4J_ROOT_LOGLEVEL"), None);
        assert_eq!(env_to_property("KAFKA_VERSION"), None);
        assert_eq!(env_to_property("PATH"), None);
        let m = from_env(vec![
            ("KAFKA_NUM_PARTITIONS".to_string(), "3".to_string()),
            ("KAFKA_HEAP_OPTS".to_string(), "-Xmx1G".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("num.partitions").map(String::as_str), Some("3"));
    }

    #[test]
    fn overrides() {
        let m = from_overrides(&["a.b=1".into(), "c=x=y".into(), "a.b=2".into()]).unwrap();
        assert_eq!(m.get("a.b").map(String::as_str), Some("2"));
        assert_eq!(m.get("c").map(String::as_str), Some("x=y"));
        assert!(from_overrides(&["novalue".into()]).is_err());
    }

    fn flat(text: &str) -> BTreeMap<String, String> {
        match from_toml(text) {
            Ok(m) => m,
            Err(FlattenError::Parse(e)) => panic!("parse: {e}"),
            Err(FlattenError::Config(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn toml_flattens() {
        let m = flat(
            r#"
"log.dirs" = "data"
log.retention.hours = 24
"broker.id" = 7
"delete.topic.enable" = false
"log.cleaner.min.cleanable.ratio" = 0.25
listeners = ["A://:1", "B://:2"]
[log.roll]
hours = 12
[offsets]
"retention.minutes" = 60
"#,
        );
        let get = |k: &str| m.get(k).map(String::as_str);
        assert_eq!(get("log.dirs"), Some("data"));
        assert_eq!(get("log.retention.hours"), Some("24"));
        assert_eq!(get("broker.id"), Some("7"));
        assert_eq!(get("delete.topic.enable"), Some("false"));
        assert_eq!(get("log.cleaner.min.cleanable.ratio"), Some("0.25"));
        assert_eq!(get("listeners"), Some("A://:1,B://:2"));
        assert_eq!(get("log.roll.hours"), Some("12"));
        assert_eq!(get("offsets.retention.minutes"), Some("60"));
    }

    #[test]
    fn topics_section_is_not_flattened() {
        let f = match parse_file(
            "\"log.retention.hours\" = 1\n[[topics]]\nname = \"a\"\npartitions = 2\n[topics.config]\n\"retention.ms\" = \"1000\"\n",
        ) {
            Ok(f) => f,
            Err(_) => panic!("parse failed"),
        };
        assert_eq!(f.props.len(), 1);
        assert_eq!(f.topics.len(), 1);
        assert_eq!(f.topics[0].name, "a");
        assert_eq!(f.topics[0].configs["retention.ms"], "1000");
    }

    #[test]
    fn toml_duplicate_after_flattening_is_an_error() {
        let r = from_toml("\"log.retention.hours\" = 1\n[log]\n\"retention.hours\" = 2\n");
        assert!(
            matches!(r, Err(FlattenError::Config(ConfigError::InvalidValue { ref key, .. })) if key == "log.retention.hours")
        );
        assert!(matches!(from_toml("x = "), Err(FlattenError::Parse(_))));
    }
}

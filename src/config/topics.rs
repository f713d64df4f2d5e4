//! Declared topics: the `[[topics]]` section of the TOML file, the one section
//! that is not broker properties.
//!
//! ```toml
//! [[topics]]
//! name = "deployment-webhooks"
//! partitions = 3
//! replication_factor = 1
//! [topics.config]
//! "retention.ms" = "604800000"
//! ```
//!
//! `partitions` and `replication_factor` may be left out (then
//! `num.partitions` and `default.replication.factor` apply, as for a
//! CreateTopics request with -1); `config` keys are Kafka's topic config
//! names. The server creates missing declared topics at start and reports
//! (never changes) existing ones that differ.
//!
//! Invariant: every [`DeclaredTopic`] of a loaded `BrokerConfig` has a legal
//! name, a positive partition count, replication factor 1 and configs that
//! pass the same checks as CreateTopics; names are unique.

use std::collections::{BTreeMap, BTreeSet};

use super::{invalid, BrokerConfig, ConfigError};

/// One topic declared in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredTopic {
    /// Topic name.
    pub name: String,
    /// Partition count, resolved (`num.partitions` when not declared).
    pub partitions: i32,
    /// Replication factor, resolved (`default.replication.factor` when not declared).
    pub replication_factor: i16,
    /// Topic config overrides (Kafka topic config names, string values).
    pub configs: BTreeMap<String, String>,
}

/// A declared topic as read from the file, before defaults are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawTopic {
    pub name: String,
    pub partitions: Option<i64>,
    pub replication_factor: Option<i64>,
    pub configs: BTreeMap<String, String>,
}

const KEYS: &[&str] = &["name", "partitions", "replication_factor", "config"];

fn topic_key(index: usize, name: Option<&str>, field: &str) -> String {
    match name {
        Some(n) => format!("topics.{n}.{field}"),
        None => format!("topics[{index}].{field}"),
    }
}

/// Parses the value of the `topics` key: an array of tables.
pub(crate) fn parse(value: &toml::Value) -> Result<Vec<RawTopic>, ConfigError> {
    let toml::Value::Array(items) = value else {
        return Err(invalid(
            "topics",
            &value.to_string(),
            "expected an array of tables ([[topics]])",
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let toml::Value::Table(t) = item else {
            return Err(invalid(
                &format!("topics[{i}]"),
                &item.to_string(),
                "expected a table ([[topics]])",
            ));
        };
        let name = match t.get("name") {
            Some(toml::Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(invalid(
                    &topic_key(i, None, "name"),
                    &other.to_string(),
                    "expected a string",
                ))
            }
            None => {
                return Err(invalid(
                    &format!("topics[{i}]"),
                    "",
                    "a declared topic needs a name",
                ))
            }
        };
        if let Some(unknown) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(invalid(
                &topic_key(i, Some(&name), unknown),
                "",
                format!("unknown key; a declared topic has {}", KEYS.join(", ")),
            ));
        }
        let int = |field: &str| -> Result<Option<i64>, ConfigError> {
            match t.get(field) {
                None => Ok(None),
                Some(toml::Value::Integer(n)) => Ok(Some(*n)),
                Some(other) => Err(invalid(
                    &topic_key(i, Some(&name), field),
                    &other.to_string(),
                    "expected an integer",
                )),
            }
        };
        let partitions = int("partitions")?;
        let replication_factor = int("replication_factor")?;
        let mut configs = BTreeMap::new();
        match t.get("config") {
            None => {}
            Some(toml::Value::Table(c)) => {
                for (k, v) in c {
                    let key = topic_key(i, Some(&name), &format!("config.{k}"));
                    let value = match v {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Integer(n) => n.to_string(),
                        toml::Value::Boolean(b) => b.to_string(),
                        toml::Value::Float(f) => f.to_string(),
                        other => {
                            return Err(invalid(
                                &key,
                                &other.to_string(),
                                "expected a string, integer, boolean or float (quote dotted names: \"retention.ms\" = ...)",
                            ))
                        }
                    };
                    configs.insert(k.clone(), value.trim().to_string());
                }
            }
            Some(other) => {
                return Err(invalid(
                    &topic_key(i, Some(&name), "config"),
                    &other.to_string(),
                    "expected a table of topic configs",
                ))
            }
        }
        out.push(RawTopic {
            name,
            partitions,
            replication_factor,
            configs,
        });
    }
    Ok(out)
}

/// Applies the broker defaults and validates every declared topic as
/// CreateTopics would (name, partitions, replication factor, configs), plus
/// unique names.
pub(crate) fn resolve(
    config: &BrokerConfig,
    raw: Vec<RawTopic>,
) -> Result<Vec<DeclaredTopic>, ConfigError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for t in raw {
        let key = |field: &str| format!("topics.{}.{field}", t.name);
        validate_topic_name(&t.name).map_err(|reason| invalid("topics.name", &t.name, reason))?;
        if !seen.insert(t.name.clone()) {
            return Err(invalid(
                "topics.name",
                &t.name,
                "the topic is declared more than once",
            ));
        }
        let partitions = match t.partitions {
            None => config.num_partitions,
            Some(n) => i32::try_from(n)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid(&key("partitions"), &n.to_string(), "must be at least 1"))?,
        };
        let replication_factor = match t.replication_factor {
            None => config.default_replication_factor,
            Some(n) => i16::try_from(n).map_err(|_| {
                invalid(
                    &key("replication_factor"),
                    &n.to_string(),
                    "out of range for a short",
                )
            })?,
        };
        if replication_factor != 1 {
            return Err(invalid(
                &key("replication_factor"),
                &replication_factor.to_string(),
                "must be 1: this is a single broker",
            ));
        }
        for (name, value) in &t.configs {
            BrokerConfig::validate_topic_config(name, value).map_err(|e| match e {
                ConfigError::UnknownConfig(_) => invalid(
                    &key(&format!("config.{name}")),
                    value,
                    "not a Kafka topic config",
                ),
                ConfigError::InvalidValue { value, reason, .. } => {
                    invalid(&key(&format!("config.{name}")), &value, reason)
                }
                other => other,
            })?;
        }
        // Cross-field checks (e.g. a value that overflows once converted).
        config.log_config(&t.configs).map_err(|e| match e {
            ConfigError::InvalidValue {
                key: k,
                value,
                reason,
            } => invalid(&key(&format!("config.{k}")), &value, reason),
            other => other,
        })?;
        out.push(DeclaredTopic {
            name: t.name,
            partitions,
            replication_factor,
            configs: t.configs,
        });
    }
    Ok(out)
}

/// Kafka's legal topic name: 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name cannot be \"{name}\""));
    }
    if name.len() > 249 {
        return Err(format!(
            "topic name is {} characters long, more than the maximum 249",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name {name:?} contains {c:?}; legal characters are ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Result<Vec<RawTopic>, ConfigError> {
        let table: toml::Table = text.parse().expect("toml");
        parse(table.get("topics").expect("topics"))
    }

    #[test]
    fn parses_the_documented_shape() {
        let t = raw(r#"
[[topics]]
name = "deployment-webhooks"
partitions = 3
replication_factor = 1
[topics.config]
"retention.ms" = "604800000"
"cleanup.policy" = "delete"

[[topics]]
name = "dev-events"
config = { "retention.ms" = 1209600000 }
"#)
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "deployment-webhooks");
        assert_eq!(t[0].partitions, Some(3));
        assert_eq!(t[0].replication_factor, Some(1));
        assert_eq!(t[0].configs["retention.ms"], "604800000");
        assert_eq!(t[1].partitions, None);
        assert_eq!(t[1].configs["retention.ms"], "1209600000");
    }

    #[test]
    fn shape_errors_name_the_key() {
        let key = |text: &str| match raw(text) {
            Err(ConfigError::InvalidValue { key, .. }) => key,
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(key("[topics]\nname = \"a\"\n"), "topics");
        assert_eq!(key("[[topics]]\npartitions = 1\n"), "topics[0]");
        assert_eq!(
            key("[[topics]]\nname = \"a\"\npartition = 1\n"),
            "topics.a.partition"
        );
        assert_eq!(
            key("[[topics]]\nname = \"a\"\npartitions = \"3\"\n"),
            "topics.a.partitions"
        );
        // An unquoted dotted key is a nested table, not a config name.
        assert_eq!(
            key("[[topics]]\nname = \"a\"\n[topics.config]\nretention.ms = 1\n"),
            "topics.a.config.retention"
        );
    }
}

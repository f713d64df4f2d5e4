//! `strom configs` / `kafka-configs`: `--entity-type topics|brokers
//! --entity-name X --describe [--all]` (DescribeConfigs, printed as Kafka
//! 3.5's `ConfigCommand` does: the dynamic configs, or all with `--all`) and
//! `--alter --add-config k=v,k2=[a,b] --delete-config k` (IncrementalAlterConfigs).
//! `--entity-type clients|users` are client quotas (`client_quotas`).

use std::time::Duration;

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};

use super::topics::RESOURCE_TOPIC;
use super::{connect, deadline, str_bytes, ToolError};

/// DescribeConfigs' resource type for brokers.
const RESOURCE_BROKER: i8 = 4;

/// kafka-configs' flags.
#[derive(Debug, clap::Args)]
pub struct ConfigsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// `topics`, `brokers`, `clients` or `users` (`users` and `clients` may
    /// be given together, each followed by its --entity-name or --entity-default).
    #[arg(long, required = true)]
    pub entity_type: Vec<String>,
    /// The topic name, broker id, client id or user principal.
    #[arg(long)]
    pub entity_name: Vec<String>,
    /// The default client id or user (quotas).
    #[arg(long)]
    pub entity_default: bool,
    /// Shorthand for --entity-type topics --entity-name X.
    #[arg(long)]
    pub topic: Option<String>,
    /// Describe the configs.
    #[arg(long)]
    pub describe: bool,
    /// With --describe: every config, not only the dynamic ones.
    #[arg(long)]
    pub all: bool,
    /// Alter the configs.
    #[arg(long)]
    pub alter: bool,
    /// `k=v,k2=[a,b]` to set.
    #[arg(long)]
    pub add_config: Option<String>,
    /// `k,k2` to remove (back to the default).
    #[arg(long)]
    pub delete_config: Option<String>,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

fn source_name(s: i8) -> &'static str {
    match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        _ => "UNKNOWN",
    }
}

/// Splits `k=v,k2=[a,b]` at the commas outside brackets.
pub(super) fn split_configs(s: &str) -> Result<Vec<(String, String)>, ToolError> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| ToolError::Usage(format!("--add-config expects k=v, got '{p}'")))?;
            let v = v.trim();
            let v = v
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or(v);
            Ok((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

pub async fn run(args: ConfigsArgs) -> Result<(), ToolError> {
    if args
        .entity_type
        .iter()
        .any(|t| matches!(t.as_str(), "clients" | "users"))
    {
        return super::client_quotas::run(args).await;
    }
    let entity_type = args.entity_type.first().cloned().unwrap_or_default();
    let (rtype, label) = match entity_type.as_str() {
        "topics" | "topic" => (RESOURCE_TOPIC, "topic"),
        "brokers" | "broker" => (RESOURCE_BROKER, "broker"),
        other => {
            return Err(ToolError::Usage(format!(
                "--entity-type must be topics, brokers, clients or users, not '{other}'"
            )))
        }
    };
    let name = args
        .entity_name
        .first()
        .cloned()
        .or_else(|| args.topic.clone())
        .ok_or_else(|| ToolError::Usage("--entity-name is required".into()))?;
    if args.describe == args.alter {
        return Err(ToolError::Usage(
            "exactly one of --describe, --alter is required".into(),
        ));
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-configs", timeout).await?;
    if rtype == RESOURCE_TOPIC
        && deadline(timeout, "looking up the topic", client.topic(&name))
            .await?
            .is_none()
    {
        return Err(ToolError::UnknownTopic(name));
    }
    let conn = client.any();
    if args.describe {
        let version = conn.version_for::<DescribeConfigsRequest>(1)?;
        let req = DescribeConfigsRequest::default()
            .with_include_synonyms(true)
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(rtype)
                .with_resource_name(str_bytes(&name))
                .with_configuration_keys(None)]);
        let resp = deadline(timeout, "describing configs", conn.send(req, version)).await?;
        let dynamic = if rtype == RESOURCE_TOPIC { 1 } else { 2 };
        for r in resp.results {
            if r.error_code != 0 {
                return Err(ToolError::broker(
                    "DescribeConfigs",
                    r.error_code,
                    r.error_message.as_ref(),
                ));
            }
            crate::outln!(
                "{} configs for {label} {name} are:",
                if args.all { "All" } else { "Dynamic" }
            );
            let mut entries: Vec<_> = r
                .configs
                .iter()
                .filter(|c| args.all || c.config_source == dynamic)
                .collect();
            entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
            for c in entries {
                let value = |v: &Option<kafka_protocol::protocol::StrBytes>| {
                    if c.is_sensitive {
                        "null".to_string()
                    } else {
                        v.as_ref().map_or("null".to_string(), |v| v.to_string())
                    }
                };
                let synonyms: Vec<String> = c
                    .synonyms
                    .iter()
                    .map(|s| {
                        format!(
                            "{}:{}={}",
                            source_name(s.source),
                            s.name.as_str(),
                            value(&s.value)
                        )
                    })
                    .collect();
                crate::outln!(
                    "  {}={} sensitive={} synonyms={{{}}}",
                    c.name.as_str(),
                    value(&c.value),
                    c.is_sensitive,
                    synonyms.join(", ")
                );
            }
        }
        return Ok(());
    }
    let mut ops = Vec::new();
    if let Some(add) = &args.add_config {
        for (k, v) in split_configs(add)? {
            ops.push(
                AlterableConfig::default()
                    .with_name(str_bytes(&k))
                    .with_config_operation(0)
                    .with_value(Some(str_bytes(&v))),
            );
        }
    }
    if let Some(del) = &args.delete_config {
        for k in del.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            ops.push(
                AlterableConfig::default()
                    .with_name(str_bytes(k))
                    .with_config_operation(1)
                    .with_value(None),
            );
        }
    }
    if ops.is_empty() {
        return Err(ToolError::Usage(
            "--alter needs --add-config or --delete-config".into(),
        ));
    }
    let version = conn.version_for::<IncrementalAlterConfigsRequest>(0)?;
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(rtype)
            .with_resource_name(str_bytes(&name))
            .with_configs(ops),
    ]);
    let resp = deadline(timeout, "altering configs", conn.send(req, version)).await?;
    for r in resp.responses {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "IncrementalAlterConfigs",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    crate::outln!("Completed updating config for {label} {name}.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists_keep_bracketed_commas() {
        let c = split_configs("retention.ms=1000,cleanup.policy=[compact,delete]").unwrap();
        assert_eq!(
            c,
            vec![
                ("retention.ms".to_string(), "1000".to_string()),
                ("cleanup.policy".to_string(), "compact,delete".to_string())
            ]
        );
        assert!(split_configs("novalue").is_err());
    }
}

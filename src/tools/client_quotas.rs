//! `kafka-configs --entity-type clients|users [--entity-name X |
//! --entity-default] (--describe | --alter --add-config producer_byte_rate=1024
//! --delete-config k)`: client quotas as Kafka 3.5's `ConfigCommand` handles
//! them, through DescribeClientQuotas and AlterClientQuotas, with its output
//! (`Quota configs for user-principal 'alice', client-id 'app' are
//! producer_byte_rate=1024.0`, values as Java prints doubles).

use std::time::Duration;

use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};

use super::configs::{split_configs, ConfigsArgs};
use super::{connect, deadline, str_bytes, user_scram, ToolError};
use crate::quotas::{CLIENT_ID, USER};

/// Java's `Double.toString` for the values quotas take.
pub fn java_double(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e7).contains(&a) {
        let s = format!("{v:E}");
        let (mantissa, exp) = s.split_once('E').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        return format!("{mantissa}E{exp}");
    }
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// (entity type, name or default) in the order given; `Some(None)` is the
/// default entity, `None` any entity of the type (describe only).
/// (entity type, `Some(name)`, `Some(None)` for the default, `None` for any).
type Wanted = Vec<(&'static str, Option<Option<String>>)>;

fn entities(args: &ConfigsArgs) -> Result<Wanted, ToolError> {
    let mut names = args.entity_name.iter();
    let mut out = Vec::new();
    for t in &args.entity_type {
        let kind = match t.as_str() {
            "users" => USER,
            "clients" => CLIENT_ID,
            other => {
                return Err(ToolError::Usage(format!(
                    "--entity-type {other} cannot be combined with users or clients"
                )))
            }
        };
        let name = match names.next() {
            Some(n) => Some(Some(n.clone())),
            None if args.entity_default => Some(None),
            None => None,
        };
        out.push((kind, name));
    }
    Ok(out)
}

fn entity_label(kind: &str, name: &Option<String>) -> String {
    let kind = if kind == USER {
        "user-principal"
    } else {
        "client-id"
    };
    match name {
        Some(n) => format!("{kind} '{n}'"),
        None => format!("the default {kind}"),
    }
}

pub async fn run(args: ConfigsArgs) -> Result<(), ToolError> {
    if args.describe == args.alter {
        return Err(ToolError::Usage(
            "exactly one of --describe, --alter is required".into(),
        ));
    }
    let wanted = entities(&args)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-configs", timeout).await?;
    let conn = client.any();
    // SCRAM credentials of a user (one --entity-type users) go through their own APIs.
    let only_users = wanted.len() == 1 && wanted.first().is_some_and(|(k, _)| *k == USER);
    let user_name = match wanted.first() {
        Some((_, Some(Some(n)))) if only_users => Some(n.clone()),
        _ => None,
    };
    let added = match &args.add_config {
        Some(add) => split_configs(add)?,
        None => Vec::new(),
    };
    let deleted: Vec<String> = args
        .delete_config
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let scram_change = added.iter().any(|(k, _)| user_scram::is_scram_key(k))
        || deleted.iter().any(|k| user_scram::is_scram_key(k));
    if args.alter && scram_change {
        let Some(user) = &user_name else {
            return Err(ToolError::Usage(
                "SCRAM credentials are altered for one --entity-type users --entity-name".into(),
            ));
        };
        user_scram::alter(conn, user, &added, &deleted, timeout).await?;
        let quota_left = added.iter().any(|(k, _)| !user_scram::is_scram_key(k))
            || deleted.iter().any(|k| !user_scram::is_scram_key(k));
        if !quota_left {
            println!("Completed updating config for user {user}.");
            return Ok(());
        }
    }
    let added: Vec<(String, String)> = added
        .into_iter()
        .filter(|(k, _)| !user_scram::is_scram_key(k))
        .collect();
    let deleted: Vec<String> = deleted
        .into_iter()
        .filter(|k| !user_scram::is_scram_key(k))
        .collect();
    if args.describe {
        let components = wanted
            .iter()
            .map(|(kind, name)| {
                let c = ComponentData::default().with_entity_type(str_bytes(kind));
                match name {
                    Some(Some(n)) => c.with_match_type(0).with_match(Some(str_bytes(n))),
                    Some(None) => c.with_match_type(1).with_match(None),
                    None => c.with_match_type(2).with_match(None),
                }
            })
            .collect();
        let version = conn.version_for::<DescribeClientQuotasRequest>(0)?;
        let req = DescribeClientQuotasRequest::default()
            .with_components(components)
            .with_strict(true);
        let resp = deadline(timeout, "describing client quotas", conn.send(req, version)).await?;
        if resp.error_code != 0 {
            return Err(ToolError::broker(
                "DescribeClientQuotas",
                resp.error_code,
                resp.error_message.as_ref(),
            ));
        }
        for entry in resp.entries.unwrap_or_default() {
            let mut parts = Vec::new();
            for kind in [USER, CLIENT_ID] {
                if let Some(e) = entry.entity.iter().find(|e| e.entity_type.as_str() == kind) {
                    let name = e.entity_name.as_ref().map(|n| n.to_string());
                    parts.push(entity_label(kind, &name));
                }
            }
            let values: Vec<String> = entry
                .values
                .iter()
                .map(|v| format!("{}={}", v.key.as_str(), java_double(v.value)))
                .collect();
            crate::outln!(
                "Quota configs for {} are {}",
                parts.join(", "),
                values.join(", ")
            );
        }
        if only_users {
            let users: Vec<String> = user_name.into_iter().collect();
            user_scram::describe(conn, &users, timeout).await?;
        }
        return Ok(());
    }
    let mut entity = Vec::new();
    for (kind, name) in &wanted {
        let Some(name) = name else {
            return Err(ToolError::Usage(
                "--alter needs --entity-name or --entity-default for each --entity-type".into(),
            ));
        };
        entity.push(
            EntityData::default()
                .with_entity_type(str_bytes(kind))
                .with_entity_name(name.as_deref().map(str_bytes)),
        );
    }
    let mut ops = Vec::new();
    {
        for (k, v) in added {
            let value: f64 = v
                .trim()
                .parse()
                .map_err(|_| ToolError::Usage(format!("invalid value '{v}' for {k}")))?;
            ops.push(
                OpData::default()
                    .with_key(str_bytes(&k))
                    .with_value(value)
                    .with_remove(false),
            );
        }
    }
    for k in &deleted {
        ops.push(OpData::default().with_key(str_bytes(k)).with_remove(true));
    }
    if ops.is_empty() {
        return Err(ToolError::Usage(
            "--alter needs --add-config or --delete-config".into(),
        ));
    }
    let version = conn.version_for::<AlterClientQuotasRequest>(0)?;
    let req = AlterClientQuotasRequest::default()
        .with_entries(vec![EntryData::default().with_entity(entity).with_ops(ops)]);
    let resp = deadline(timeout, "altering client quotas", conn.send(req, version)).await?;
    for e in &resp.entries {
        if e.error_code != 0 {
            return Err(ToolError::broker(
                "AlterClientQuotas",
                e.error_code,
                e.error_message.as_ref(),
            ));
        }
    }
    let head = args.entity_type.first().map(String::as_str).unwrap_or("");
    match wanted.first() {
        Some((_, Some(Some(name)))) => crate::outln!(
            "Completed updating config for {} {name}.",
            head.trim_end_matches('s')
        ),
        _ => crate::outln!("Completed updating default config for {head} in the cluster."),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(1024.0), "1024.0");
        assert_eq!(java_double(12.5), "12.5");
        assert_eq!(java_double(1.0e7), "1.0E7");
        assert_eq!(java_double(2.5e9), "2.5E9");
    }
}

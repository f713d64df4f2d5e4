//! `strom acls` / `kafka-acls --bootstrap-server … (--add | --remove |
//! --list)`: Kafka 3.5's `AclCommand` on CreateAcls, DescribeAcls and
//! DeleteAcls, with its flags (`--allow-principal`, `--deny-principal`,
//! `--allow-host`, `--deny-host`, `--operation`, `--topic`, `--group`,
//! `--cluster`, `--transactional-id`, `--resource-pattern-type`, `--force`,
//! `--principal`) and its output:
//!
//! ```text
//! Adding ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`:
//!  <TAB>(principal=User:guardian, host=*, operation=WRITE, permissionType=ALLOW)
//! ```
//!
//! `--operation` defaults to All, the hosts to `*`; an operation the
//! resource type does not have is refused before anything is sent.
//!
//! The role options build the operations themselves, as AclCommand's
//! `getProducerResourceFilterToAcls` / `getConsumerResourceFilterToAcls` do:
//! `--producer` allows WRITE, DESCRIBE and CREATE on each `--topic`, WRITE
//! and DESCRIBE on each `--transactional-id`, and with `--idempotent`
//! IDEMPOTENT_WRITE on the cluster; `--consumer` allows READ and DESCRIBE on
//! each `--topic` and READ on each `--group`. Both may be given at once (a
//! topic then gets both sets). They take no `--operation`, `--deny-principal`
//! or `--deny-host`, and work with `--add` and `--remove`, not `--list`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::Duration;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};

use super::{connect, deadline, str_bytes, ToolError};
use crate::authorizer::{
    AccessControlEntry, AclBinding, AclOperation, PatternType, Permission, ResourcePattern,
    ResourceType, CLUSTER_NAME,
};
use crate::client::Connection;

/// kafka-acls' flags.
#[derive(Debug, clap::Args)]
pub struct AclsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// Add ACLs.
    #[arg(long)]
    pub add: bool,
    /// Remove ACLs.
    #[arg(long)]
    pub remove: bool,
    /// List ACLs.
    #[arg(long)]
    pub list: bool,
    /// Topic resources (repeatable; `*` for all topics).
    #[arg(long)]
    pub topic: Vec<String>,
    /// Consumer group resources (repeatable).
    #[arg(long)]
    pub group: Vec<String>,
    /// The cluster resource.
    #[arg(long)]
    pub cluster: bool,
    /// Transactional id resources (repeatable).
    #[arg(long)]
    pub transactional_id: Vec<String>,
    /// literal (default) or prefixed; for --list and --remove also any or match.
    #[arg(long, default_value = "literal")]
    pub resource_pattern_type: String,
    /// Principals to allow, `User:alice` (repeatable).
    #[arg(long)]
    pub allow_principal: Vec<String>,
    /// Principals to deny (repeatable).
    #[arg(long)]
    pub deny_principal: Vec<String>,
    /// Hosts the allow ACLs apply to (default `*`).
    #[arg(long)]
    pub allow_host: Vec<String>,
    /// Hosts the deny ACLs apply to (default `*`).
    #[arg(long)]
    pub deny_host: Vec<String>,
    /// Operations (Read, Write, Create, Delete, Alter, Describe,
    /// ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All);
    /// default All.
    #[arg(long)]
    pub operation: Vec<String>,
    /// With --list: only this principal's ACLs.
    #[arg(long)]
    pub principal: Vec<String>,
    /// Remove without asking.
    #[arg(long)]
    pub force: bool,
    /// The producer role: WRITE, DESCRIBE, CREATE on the topics (and WRITE,
    /// DESCRIBE on the transactional ids).
    #[arg(long)]
    pub producer: bool,
    /// The consumer role: READ, DESCRIBE on the topics and READ on the groups.
    #[arg(long)]
    pub consumer: bool,
    /// With --producer: IDEMPOTENT_WRITE on the cluster.
    #[arg(long)]
    pub idempotent: bool,
    /// Admin client properties file (accepted; not read).
    #[arg(long)]
    pub command_config: Option<String>,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// Pattern type codes of filters.
const ANY: i8 = 1;
const MATCH: i8 = 2;

fn pattern_code(args: &AclsArgs, filter: bool) -> Result<i8, ToolError> {
    let s = args.resource_pattern_type.as_str();
    if let Some(p) = PatternType::parse(s) {
        return Ok(p.code());
    }
    match s.to_ascii_lowercase().as_str() {
        "any" if filter => Ok(ANY),
        "match" if filter => Ok(MATCH),
        _ => Err(ToolError::Usage(format!(
            "A '--resource-pattern-type' value of '{s}' is not valid{}",
            if filter { "" } else { " when adding acls" }
        ))),
    }
}

fn pattern_name(code: i8) -> &'static str {
    match PatternType::from_code(code) {
        Some(p) => p.enum_name(),
        None if code == MATCH => "MATCH",
        None => "ANY",
    }
}

/// The resources named by the flags, as (type, name).
fn resources(args: &AclsArgs) -> Vec<(ResourceType, String)> {
    let mut out = Vec::new();
    out.extend(args.topic.iter().map(|t| (ResourceType::Topic, t.clone())));
    out.extend(args.group.iter().map(|g| (ResourceType::Group, g.clone())));
    if args.cluster || args.idempotent {
        out.push((ResourceType::Cluster, CLUSTER_NAME.to_string()));
    }
    out.extend(
        args.transactional_id
            .iter()
            .map(|t| (ResourceType::TransactionalId, t.clone())),
    );
    out
}

fn operations(args: &AclsArgs) -> Result<Vec<AclOperation>, ToolError> {
    if args.operation.is_empty() {
        return Ok(vec![AclOperation::All]);
    }
    args.operation
        .iter()
        .map(|o| {
            AclOperation::parse(o)
                .ok_or_else(|| ToolError::Usage(format!("Invalid operation: {o}")))
        })
        .collect()
}

/// The entries for `ops`: principals × hosts × operations, allow then deny.
fn entries_for(
    args: &AclsArgs,
    ops: &[AclOperation],
) -> Result<Vec<AccessControlEntry>, ToolError> {
    let star = vec!["*".to_string()];
    let mut out = Vec::new();
    for (principals, hosts, permission) in [
        (&args.allow_principal, &args.allow_host, Permission::Allow),
        (&args.deny_principal, &args.deny_host, Permission::Deny),
    ] {
        let hosts = if hosts.is_empty() { &star } else { hosts };
        for principal in principals {
            principal
                .parse::<crate::principal::KafkaPrincipal>()
                .map_err(|e| ToolError::Usage(e.to_string()))?;
            for host in hosts {
                for &operation in ops {
                    out.push(AccessControlEntry {
                        principal: principal.clone(),
                        host: host.clone(),
                        operation,
                        permission,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The entries the command line's `--operation`s build.
fn entries(args: &AclsArgs) -> Result<Vec<AccessControlEntry>, ToolError> {
    entries_for(args, &operations(args)?)
}

/// AclCommand's `checkInvalidArgs` message.
fn invalid_with(used: &str, other: &str) -> ToolError {
    ToolError::Usage(format!(
        "Option \"[{used}]\" can't be used with option \"[{other}]\""
    ))
}

/// AclCommandOptions.checkArgs for the role options.
fn check_role_args(args: &AclsArgs) -> Result<(), ToolError> {
    if args.list {
        for (given, name) in [
            (args.producer, "producer"),
            (args.consumer, "consumer"),
            (!args.allow_host.is_empty(), "allow-host"),
            (!args.allow_principal.is_empty(), "allow-principal"),
            (!args.deny_host.is_empty(), "deny-host"),
            (!args.deny_principal.is_empty(), "deny-principal"),
        ] {
            if given {
                return Err(invalid_with("list", name));
            }
        }
    }
    for (role, name) in [(args.producer, "producer"), (args.consumer, "consumer")] {
        if !role {
            continue;
        }
        for (given, other) in [
            (!args.operation.is_empty(), "operation"),
            (!args.deny_principal.is_empty(), "deny-principal"),
            (!args.deny_host.is_empty(), "deny-host"),
        ] {
            if given {
                return Err(invalid_with(name, other));
            }
        }
    }
    if args.producer && args.topic.is_empty() {
        return Err(ToolError::Usage(
            "With --producer you must specify a --topic".into(),
        ));
    }
    if args.idempotent && !args.producer {
        return Err(ToolError::Usage(
            "The --idempotent option is only available if --producer is set".into(),
        ));
    }
    if args.consumer
        && (args.topic.is_empty()
            || args.group.is_empty()
            || (!args.producer && (args.cluster || !args.transactional_id.is_empty())))
    {
        return Err(ToolError::Usage(
            "With --consumer you must specify a --topic and a --group and no --cluster or --transactional-id option should be specified.".into(),
        ));
    }
    Ok(())
}

/// Resources, each with its entries.
type ResourceAcls = Vec<((ResourceType, String), Vec<AccessControlEntry>)>;

/// AclCommand's `getResourceFilterToAcls`: each resource with the entries
/// to add (or remove; none: every entry on it), from the `--operation`s, or
/// from the roles.
fn resource_acls(args: &AclsArgs) -> Result<ResourceAcls, ToolError> {
    use AclOperation::*;
    let resources = resources(args);
    if !args.producer && !args.consumer {
        let entries = entries(args)?;
        return Ok(resources
            .into_iter()
            .map(|r| (r, entries.clone()))
            .collect());
    }
    let mut out: ResourceAcls = Vec::new();
    let mut add = |r: &(ResourceType, String), ops: &[AclOperation]| -> Result<(), ToolError> {
        let more = entries_for(args, ops)?;
        match out.iter_mut().find(|(have, _)| have == r) {
            Some((_, list)) => {
                for e in more {
                    if !list.contains(&e) {
                        list.push(e);
                    }
                }
            }
            None => out.push((r.clone(), more)),
        }
        Ok(())
    };
    for r in &resources {
        let ops: &[AclOperation] = match r.0 {
            ResourceType::Topic if args.producer => &[Write, Describe, Create],
            ResourceType::TransactionalId if args.producer => &[Write, Describe],
            ResourceType::Cluster if args.producer && args.idempotent => &[IdempotentWrite],
            _ => &[],
        };
        if !ops.is_empty() {
            add(r, ops)?;
        }
    }
    if args.consumer {
        for r in &resources {
            let ops: &[AclOperation] = match r.0 {
                ResourceType::Topic => &[Read, Describe],
                ResourceType::Group => &[Read],
                _ => &[],
            };
            if !ops.is_empty() {
                add(r, ops)?;
            }
        }
    }
    Ok(out)
}

fn print_acls(heading: &str, resource: &str, acls: &[String]) {
    let lines: Vec<String> = acls.iter().map(|a| format!("\t{a}")).collect();
    println!("{heading} `{resource}`: \n {} \n", lines.join("\n"));
}

pub async fn run(args: AclsArgs) -> Result<(), ToolError> {
    let actions = [args.add, args.remove, args.list]
        .iter()
        .filter(|&&a| a)
        .count();
    if actions != 1 {
        return Err(ToolError::Usage(
            "Command must include exactly one action: --list, --add, --remove.".into(),
        ));
    }
    check_role_args(&args)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-acls", timeout).await?;
    let conn = client.any();
    if args.add {
        add(conn, &args, timeout).await?;
    } else if args.remove {
        remove(conn, &args, timeout).await?;
    }
    list(conn, &args, timeout).await
}

async fn add(conn: &mut Connection, args: &AclsArgs, timeout: Duration) -> Result<(), ToolError> {
    let pattern = pattern_code(args, false)?;
    let pattern_type = PatternType::from_code(pattern).unwrap_or(PatternType::Literal);
    let resources = resource_acls(args)?;
    if resources.is_empty() {
        return Err(no_resource());
    }
    if resources.iter().any(|(_, entries)| entries.is_empty()) {
        return Err(ToolError::Usage(
            "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs."
                .into(),
        ));
    }
    let mut creations = Vec::new();
    for ((ty, name), entries) in &resources {
        let pattern = ResourcePattern {
            resource_type: *ty,
            name: name.clone(),
            pattern_type,
        };
        for e in entries {
            let binding = AclBinding {
                pattern: pattern.clone(),
                entry: e.clone(),
            };
            binding.check_operation().map_err(|_| {
                let supported: Vec<&str> = ty
                    .supported_operations()
                    .iter()
                    .map(|o| o.enum_name())
                    .collect();
                ToolError::Usage(format!(
                    "ResourceType {} only supports operations {}",
                    ty.enum_name(),
                    supported.join(",")
                ))
            })?;
        }
        let shown: Vec<String> = entries.iter().map(ToString::to_string).collect();
        print_acls("Adding ACLs for resource", &pattern.to_string(), &shown);
        creations.extend(entries.iter().map(|e| {
            AclCreation::default()
                .with_resource_type(ty.code())
                .with_resource_name(str_bytes(name))
                .with_resource_pattern_type(pattern_type.code())
                .with_principal(str_bytes(&e.principal))
                .with_host(str_bytes(&e.host))
                .with_operation(e.operation.code())
                .with_permission_type(e.permission.code())
        }));
    }
    let version = conn.version_for::<CreateAclsRequest>(1)?;
    let req = CreateAclsRequest::default().with_creations(creations);
    let resp = deadline(timeout, "creating ACLs", conn.send(req, version)).await?;
    for r in &resp.results {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "CreateAcls",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

/// getResourceFilter's refusal of a command naming no resource.
fn no_resource() -> ToolError {
    ToolError::Usage(
        "You must provide at least one resource: --topic <topic> or --cluster or --group <group> or --transactional-id <id>".into(),
    )
}

fn confirm(question: &str) -> bool {
    println!("{question}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok() && line.trim().eq_ignore_ascii_case("y")
}

async fn remove(
    conn: &mut Connection,
    args: &AclsArgs,
    timeout: Duration,
) -> Result<(), ToolError> {
    let pattern = pattern_code(args, true)?;
    let resources = resource_acls(args)?;
    if resources.is_empty() {
        return Err(no_resource());
    }
    let mut filters = Vec::new();
    for ((ty, name), entries) in &resources {
        let shown = format!(
            "ResourcePatternFilter(resourceType={}, name={name}, patternType={})",
            ty.enum_name(),
            pattern_name(pattern)
        );
        let question = if entries.is_empty() {
            format!("Are you sure you want to delete all ACLs for resource filter `{shown}`? (y/n)")
        } else {
            let lines: Vec<String> = entries.iter().map(|e| format!("\t{e}")).collect();
            format!(
                "Are you sure you want to remove ACLs: \n {} \n from resource filter `{shown}`? (y/n)",
                lines.join("\n")
            )
        };
        if !args.force && !confirm(&question) {
            continue;
        }
        let base = DeleteAclsFilter::default()
            .with_resource_type_filter(ty.code())
            .with_resource_name_filter(Some(str_bytes(name)))
            .with_pattern_type_filter(pattern);
        if entries.is_empty() {
            filters.push(
                base.clone()
                    .with_principal_filter(None)
                    .with_host_filter(None)
                    .with_operation(ANY)
                    .with_permission_type(ANY),
            );
        }
        for e in entries {
            filters.push(
                base.clone()
                    .with_principal_filter(Some(str_bytes(&e.principal)))
                    .with_host_filter(Some(str_bytes(&e.host)))
                    .with_operation(e.operation.code())
                    .with_permission_type(e.permission.code()),
            );
        }
    }
    if filters.is_empty() {
        return Ok(());
    }
    let version = conn.version_for::<DeleteAclsRequest>(1)?;
    let req = DeleteAclsRequest::default().with_filters(filters);
    let resp = deadline(timeout, "deleting ACLs", conn.send(req, version)).await?;
    for r in &resp.filter_results {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "DeleteAcls",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

async fn list(conn: &mut Connection, args: &AclsArgs, timeout: Duration) -> Result<(), ToolError> {
    let pattern = pattern_code(args, true)?;
    let mut filters: Vec<(i8, Option<String>)> = resources(args)
        .into_iter()
        .map(|(ty, name)| (ty.code(), Some(name)))
        .collect();
    let any_resource = filters.is_empty();
    if any_resource {
        filters.push((ANY, None));
    }
    let principals: Vec<Option<&String>> = if args.principal.is_empty() {
        vec![None]
    } else {
        args.principal.iter().map(Some).collect()
    };
    let version = conn.version_for::<DescribeAclsRequest>(1)?;
    let mut found: BTreeMap<ResourcePattern, Vec<String>> = BTreeMap::new();
    for (ty, name) in &filters {
        for principal in &principals {
            let req = DescribeAclsRequest::default()
                .with_resource_type_filter(*ty)
                .with_resource_name_filter(name.as_deref().map(str_bytes))
                .with_pattern_type_filter(if any_resource { ANY } else { pattern })
                .with_principal_filter(principal.map(|p| str_bytes(p)))
                .with_host_filter(None)
                .with_operation(ANY)
                .with_permission_type(ANY);
            let resp = deadline(timeout, "describing ACLs", conn.send(req, version)).await?;
            if resp.error_code != 0 {
                return Err(ToolError::broker(
                    "DescribeAcls",
                    resp.error_code,
                    resp.error_message.as_ref(),
                ));
            }
            for r in resp.resources {
                let (Some(resource_type), Some(pattern_type)) = (
                    ResourceType::from_code(r.resource_type),
                    PatternType::from_code(r.pattern_type),
                ) else {
                    continue;
                };
                let key = ResourcePattern {
                    resource_type,
                    name: r.resource_name.to_string(),
                    pattern_type,
                };
                let list = found.entry(key).or_default();
                for a in r.acls {
                    let (Some(operation), Some(permission)) = (
                        AclOperation::from_code(a.operation),
                        Permission::from_code(a.permission_type),
                    ) else {
                        continue;
                    };
                    let e = AccessControlEntry {
                        principal: a.principal.to_string(),
                        host: a.host.to_string(),
                        operation,
                        permission,
                    };
                    list.push(e.to_string());
                }
            }
        }
    }
    for (resource, acls) in found {
        print_acls("Current ACLs for resource", &resource.to_string(), &acls);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: AclsArgs,
    }

    #[test]
    fn add_builds_principals_hosts_and_operations() {
        let cli = Cli::parse_from([
            "kafka-acls",
            "--add",
            "--allow-principal",
            "User:guardian",
            "--operation",
            "Write",
            "--operation",
            "Describe",
            "--deny-principal",
            "User:eve",
            "--deny-host",
            "10.0.0.1",
            "--topic",
            "deployment-webhooks",
        ]);
        let e = entries(&cli.args).unwrap();
        assert_eq!(e.len(), 4);
        assert_eq!(
            e[0].to_string(),
            "(principal=User:guardian, host=*, operation=WRITE, permissionType=ALLOW)"
        );
        assert_eq!(e[3].host, "10.0.0.1");
        assert_eq!(e[3].permission, Permission::Deny);
        assert_eq!(pattern_code(&cli.args, false).unwrap(), 3);
        let bad = Cli::parse_from(["kafka-acls", "--add", "--resource-pattern-type", "any"]);
        assert!(pattern_code(&bad.args, false).is_err());
        assert_eq!(pattern_code(&bad.args, true).unwrap(), ANY);
    }

    fn shown(
        r: &[((ResourceType, String), Vec<AccessControlEntry>)],
    ) -> Vec<(String, Vec<&'static str>)> {
        r.iter()
            .map(|((ty, name), es)| {
                (
                    format!("{}:{name}", ty.enum_name()),
                    es.iter().map(|e| e.operation.enum_name()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn producer_and_consumer_roles_are_aclcommands() {
        let cli = Cli::parse_from([
            "kafka-acls",
            "--add",
            "--allow-principal",
            "User:guardian",
            "--producer",
            "--topic",
            "t",
            "--transactional-id",
            "tx",
            "--idempotent",
        ]);
        check_role_args(&cli.args).unwrap();
        assert_eq!(
            shown(&resource_acls(&cli.args).unwrap()),
            [
                ("TOPIC:t".to_string(), vec!["WRITE", "DESCRIBE", "CREATE"]),
                (
                    "CLUSTER:kafka-cluster".to_string(),
                    vec!["IDEMPOTENT_WRITE"]
                ),
                ("TRANSACTIONAL_ID:tx".to_string(), vec!["WRITE", "DESCRIBE"]),
            ]
        );
        let both = Cli::parse_from([
            "kafka-acls",
            "--add",
            "--allow-principal",
            "User:w",
            "--producer",
            "--consumer",
            "--topic",
            "t",
            "--group",
            "g",
        ]);
        check_role_args(&both.args).unwrap();
        assert_eq!(
            shown(&resource_acls(&both.args).unwrap()),
            [
                (
                    "TOPIC:t".to_string(),
                    vec!["WRITE", "DESCRIBE", "CREATE", "READ"]
                ),
                ("GROUP:g".to_string(), vec!["READ"]),
            ]
        );
        let refused = |args: &[&str]| {
            let mut all = vec!["kafka-acls"];
            all.extend_from_slice(args);
            match check_role_args(&Cli::parse_from(all).args) {
                Err(ToolError::Usage(m)) => m,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            refused(&["--add", "--producer", "--topic", "t", "--operation", "Read"]),
            "Option \"[producer]\" can't be used with option \"[operation]\""
        );
        assert_eq!(
            refused(&["--add", "--producer", "--group", "g"]),
            "With --producer you must specify a --topic"
        );
        assert_eq!(
            refused(&["--add", "--idempotent", "--topic", "t"]),
            "The --idempotent option is only available if --producer is set"
        );
        assert!(refused(&["--add", "--consumer", "--topic", "t"])
            .starts_with("With --consumer you must"));
        assert!(refused(&[
            "--add",
            "--consumer",
            "--topic",
            "t",
            "--group",
            "g",
            "--cluster"
        ])
        .starts_with("With --consumer you must"));
        assert_eq!(
            refused(&["--list", "--consumer", "--topic", "t", "--group", "g"]),
            "Option \"[list]\" can't be used with option \"[consumer]\""
        );
    }
}

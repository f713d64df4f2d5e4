//! `strom consumer-groups` / `kafka-consumer-groups`: `--list [--state]`,
//! `--describe --group G [--members [--verbose] | --state]`,
//! `--reset-offsets`, `--delete`, `--delete-offsets`, with Kafka 3.5's
//! `ConsumerGroupCommand` tables. Lists ask every broker (ListGroups, keeping
//! protocol type `consumer` or empty); everything about one group goes to its
//! coordinator (FindCoordinator). Offsets are reset as a simple consumer
//! (OffsetCommit, generation -1) and only while the group is Empty or Dead,
//! as Kafka requires.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest,
};
use kafka_protocol::ResponseError;

use super::{connect, coordinator, deadline, group_id, str_bytes, ToolError};
use crate::client::{topic_name, Client, TopicInfo};

/// kafka-consumer-groups' flags.
#[derive(Debug, clap::Args)]
pub struct GroupsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// List all consumer groups.
    #[arg(long)]
    pub list: bool,
    /// Describe a group: offsets and lag (default), --members or --state.
    #[arg(long)]
    pub describe: bool,
    /// Delete a group (it must have no active members).
    #[arg(long)]
    pub delete: bool,
    /// Delete a group's committed offsets for --topic.
    #[arg(long)]
    pub delete_offsets: bool,
    /// Reset a group's committed offsets (with --dry-run or --execute).
    #[arg(long)]
    pub reset_offsets: bool,
    /// The group (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Every group (--describe, --delete, --reset-offsets).
    #[arg(long)]
    pub all_groups: bool,
    /// Topic, optionally `topic:0,1` for some partitions (repeatable).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// --reset-offsets: every topic the group has offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// --describe: members and their partition counts.
    #[arg(long)]
    pub members: bool,
    /// --describe --members: also each member's assignment.
    #[arg(long)]
    pub verbose: bool,
    /// --describe: the group's state; --list: with states.
    #[arg(long)]
    pub state: bool,
    #[arg(long)]
    pub to_earliest: bool,
    #[arg(long)]
    pub to_latest: bool,
    #[arg(long)]
    pub to_current: bool,
    #[arg(long)]
    pub to_offset: Option<i64>,
    #[arg(long, allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// `YYYY-MM-DDTHH:mm:SS[.sss][Z|±HH:MM]` (no zone: UTC).
    #[arg(long)]
    pub to_datetime: Option<String>,
    /// Show the new offsets without committing them (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Commit the new offsets.
    #[arg(long)]
    pub execute: bool,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

pub async fn run(args: GroupsArgs) -> Result<(), ToolError> {
    let actions = [
        args.list,
        args.describe,
        args.delete,
        args.delete_offsets,
        args.reset_offsets,
    ];
    if actions.iter().filter(|&&a| a).count() != 1 {
        return Err(ToolError::Usage(
            "exactly one of --list, --describe, --delete, --delete-offsets, --reset-offsets is required"
                .into(),
        ));
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-consumer-groups", timeout).await?;
    let client = &mut client;
    if args.list {
        let groups = deadline(timeout, "listing groups", list_groups(client)).await?;
        if args.state {
            let w = groups.keys().map(String::len).max().unwrap_or(0).max(15);
            crate::outln!("{:<w$} STATE", "GROUP");
            for (g, s) in &groups {
                crate::outln!("{g:<w$} {s}");
            }
        } else {
            for g in groups.keys() {
                crate::outln!("{g}");
            }
        }
        return Ok(());
    }
    let groups = if args.all_groups {
        deadline(timeout, "listing groups", list_groups(client))
            .await?
            .into_keys()
            .collect()
    } else if args.groups.is_empty() {
        return Err(ToolError::Usage(
            "--group (or --all-groups) is required".into(),
        ));
    } else {
        args.groups.clone()
    };
    for group in &groups {
        deadline(timeout, format!("working on group '{group}'"), async {
            if args.describe {
                describe(client, &args, group).await
            } else if args.delete {
                delete(client, group).await
            } else if args.delete_offsets {
                delete_offsets(client, &args, group).await
            } else {
                reset(client, &args, group).await
            }
        })
        .await?;
    }
    Ok(())
}

/// Every consumer group on every broker, with its state.
async fn list_groups(client: &mut Client) -> Result<BTreeMap<String, String>, ToolError> {
    let meta = client.metadata(&[]).await?;
    let mut out = BTreeMap::new();
    for b in meta.brokers {
        let conn = client.broker(b.node_id.0).await?;
        let version = conn.version_for::<ListGroupsRequest>(0)?;
        let resp = conn.send(ListGroupsRequest::default(), version).await?;
        if resp.error_code != 0 {
            return Err(ToolError::broker("ListGroups", resp.error_code, None));
        }
        for g in resp.groups {
            let pt = g.protocol_type.as_str();
            if pt == "consumer" || pt.is_empty() {
                let state = if g.group_state.is_empty() {
                    "Unknown".to_string()
                } else {
                    g.group_state.to_string()
                };
                out.insert(g.group_id.0.to_string(), state);
            }
        }
    }
    Ok(out)
}

async fn describe_group(
    client: &mut Client,
    group: &str,
) -> Result<(DescribedGroup, i32), ToolError> {
    let node = super::find_coordinator(client, group).await?;
    let conn = client.broker(node).await?;
    let version = conn.version_for::<DescribeGroupsRequest>(0)?;
    let resp = conn
        .send(
            DescribeGroupsRequest::default().with_groups(vec![group_id(group)]),
            version,
        )
        .await?;
    let g = resp
        .groups
        .into_iter()
        .next()
        .ok_or_else(|| ToolError::Failed("empty DescribeGroups response".into()))?;
    if g.error_code != 0 && g.error_code != ResponseError::GroupIdNotFound.code() {
        return Err(ToolError::broker(
            "DescribeGroups",
            g.error_code,
            g.error_message.as_ref(),
        ));
    }
    Ok((g, node))
}

/// All of `group`'s committed offsets, by (topic, partition).
pub(crate) async fn fetch_offsets(
    client: &mut Client,
    group: &str,
) -> Result<BTreeMap<(String, i32), i64>, ToolError> {
    let conn = coordinator(client, group).await?;
    let version = conn.version_for::<OffsetFetchRequest>(2)?.min(7);
    let resp = conn.send(offset_fetch_all(group), version).await?;
    if resp.error_code != 0 && resp.error_code != ResponseError::GroupIdNotFound.code() {
        return Err(ToolError::broker("OffsetFetch", resp.error_code, None));
    }
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.insert(
                    (t.name.0.to_string(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    Ok(out)
}

/// Commits `offsets` for `group` as a simple consumer.
pub(crate) async fn commit_offsets(
    client: &mut Client,
    group: &str,
    offsets: &[(String, Vec<(i32, i64)>)],
) -> Result<(), ToolError> {
    let conn = coordinator(client, group).await?;
    let version = conn.version_for::<OffsetCommitRequest>(2)?;
    let resp = conn.send(simple_commit(group, offsets), version).await?;
    for t in resp.topics {
        for p in t.partitions {
            if p.error_code != 0 {
                return Err(ToolError::broker("OffsetCommit", p.error_code, None));
            }
        }
    }
    Ok(())
}

/// A member's assigned partitions from its ConsumerProtocolAssignment bytes.
fn parse_assignment(mut b: &[u8]) -> Vec<(String, Vec<i32>)> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let v = b.get(..n)?;
        *b = b.get(n..)?;
        Some(v)
    }
    fn i16_(b: &mut &[u8]) -> Option<i16> {
        take(b, 2).map(|v| i16::from_be_bytes([v[0], v[1]]))
    }
    fn i32_(b: &mut &[u8]) -> Option<i32> {
        take(b, 4).map(|v| i32::from_be_bytes([v[0], v[1], v[2], v[3]]))
    }
    let mut out = Vec::new();
    let mut parse = || -> Option<()> {
        i16_(&mut b)?; // version
        let n = i32_(&mut b)?;
        for _ in 0..n.max(0) {
            let len = usize::try_from(i16_(&mut b)?).ok()?;
            let name = String::from_utf8_lossy(take(&mut b, len)?).into_owned();
            let np = i32_(&mut b)?;
            let mut parts = Vec::new();
            for _ in 0..np.max(0) {
                parts.push(i32_(&mut b)?);
            }
            out.push((name, parts));
        }
        Some(())
    };
    let _ = parse();
    out
}

/// Kafka's `shouldPrintMemberState` notes; an error for a group that does not exist.
fn check_state(group: &str, state: &str) -> Result<(), ToolError> {
    match state {
        "Dead" | "" => Err(ToolError::Failed(format!(
            "Consumer group '{group}' does not exist."
        ))),
        "Empty" => {
            eprintln!("\nConsumer group '{group}' has no active members.");
            Ok(())
        }
        "PreparingRebalance" | "CompletingRebalance" => {
            eprintln!("\nWarning: Consumer group '{group}' is rebalancing.");
            Ok(())
        }
        _ => Ok(()),
    }
}

struct Row {
    topic: String,
    partition: i32,
    current: Option<i64>,
    end: Option<i64>,
    member: Option<(String, String, String)>,
}

async fn log_end_offsets(
    client: &mut Client,
    topics: &BTreeSet<String>,
    timestamp: i64,
) -> Result<BTreeMap<(String, i32), i64>, ToolError> {
    let mut out = BTreeMap::new();
    for t in topics {
        let Some(info) = client.topic(t).await? else {
            continue;
        };
        for (p, o) in client
            .list_offsets(&info, timestamp)
            .await?
            .into_iter()
            .enumerate()
        {
            out.insert((t.clone(), p as i32), o);
        }
    }
    Ok(out)
}

async fn describe(client: &mut Client, args: &GroupsArgs, group: &str) -> Result<(), ToolError> {
    let (g, node) = describe_group(client, group).await?;
    let state = g.group_state.to_string();
    if args.state {
        check_state(group, &state)?;
        let coord = match client.broker_addr(node) {
            Some(a) => format!("{a}  ({node})"),
            None => format!("({node})"),
        };
        let cw = coord.len().max(25);
        let gw = group.len().max(25);
        crate::outln!(
            "\n{:<gw$} {:<cw$} {:<20} {:<15} #MEMBERS",
            "GROUP",
            "COORDINATOR (ID)",
            "ASSIGNMENT-STRATEGY",
            "STATE"
        );
        crate::outln!(
            "{:<gw$} {:<cw$} {:<20} {:<15} {}",
            group,
            coord,
            g.protocol_data.as_str(),
            state,
            g.members.len()
        );
        crate::outln!();
        return Ok(());
    }
    if args.members {
        check_state(group, &state)?;
        let gw = group.len().max(15);
        let iw = g
            .members
            .iter()
            .map(|m| m.member_id.len())
            .max()
            .unwrap_or(0)
            .max(15);
        let hw = g
            .members
            .iter()
            .map(|m| m.client_host.len())
            .max()
            .unwrap_or(0)
            .max(15);
        let cw = g
            .members
            .iter()
            .map(|m| m.client_id.len())
            .max()
            .unwrap_or(0)
            .max(15);
        crate::out!(
            "\n{:<gw$} {:<iw$} {:<hw$} {:<cw$} {:<15} ",
            "GROUP",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
            "#PARTITIONS"
        );
        if args.verbose {
            crate::out!("ASSIGNMENT");
        }
        crate::outln!();
        for m in &g.members {
            let a = parse_assignment(&m.member_assignment);
            let n: usize = a.iter().map(|(_, p)| p.len()).sum();
            crate::out!(
                "{:<gw$} {:<iw$} {:<hw$} {:<cw$} {:<15} ",
                group,
                m.member_id.as_str(),
                m.client_host.as_str(),
                m.client_id.as_str(),
                n
            );
            if args.verbose {
                let s: Vec<String> = a
                    .iter()
                    .map(|(t, ps)| {
                        let ps: Vec<String> = ps.iter().map(i32::to_string).collect();
                        format!("{t}({})", ps.join(","))
                    })
                    .collect();
                crate::out!(
                    "{}",
                    if s.is_empty() {
                        "-".into()
                    } else {
                        s.join(",")
                    }
                );
            }
            crate::outln!();
        }
        crate::outln!();
        return Ok(());
    }
    let committed = fetch_offsets(client, group).await?;
    let has_offsets = !committed.is_empty();
    if (state == "Dead" || state.is_empty()) && !has_offsets {
        return Err(ToolError::Failed(format!(
            "Consumer group '{group}' does not exist."
        )));
    }
    if state != "Dead" {
        check_state(group, &state)?;
    }
    let mut assigned: BTreeMap<(String, i32), (String, String, String)> = BTreeMap::new();
    for m in &g.members {
        for (t, ps) in parse_assignment(&m.member_assignment) {
            for p in ps {
                assigned.insert(
                    (t.clone(), p),
                    (
                        m.member_id.to_string(),
                        m.client_host.to_string(),
                        m.client_id.to_string(),
                    ),
                );
            }
        }
    }
    let keys: BTreeSet<(String, i32)> = committed.keys().chain(assigned.keys()).cloned().collect();
    let topics: BTreeSet<String> = keys.iter().map(|(t, _)| t.clone()).collect();
    let ends = log_end_offsets(client, &topics, -1).await?;
    let rows: Vec<Row> = keys
        .into_iter()
        .map(|k| Row {
            current: committed.get(&k).copied(),
            end: ends.get(&k).copied(),
            member: assigned.get(&k).cloned(),
            topic: k.0,
            partition: k.1,
        })
        .collect();
    print_offsets(group, &rows)?;
    Ok(())
}

/// Kafka's offsets table: a blank line, the header, one line per partition.
fn print_offsets(group: &str, rows: &[Row]) -> Result<(), ToolError> {
    let dash = || "-".to_string();
    let gw = group.len().max(15);
    let tw = rows
        .iter()
        .map(|r| r.topic.len())
        .max()
        .unwrap_or(0)
        .max(15);
    let iw = rows
        .iter()
        .filter_map(|r| r.member.as_ref().map(|m| m.0.len()))
        .max()
        .unwrap_or(0)
        .max(15);
    let hw = rows
        .iter()
        .filter_map(|r| r.member.as_ref().map(|m| m.1.len()))
        .max()
        .unwrap_or(0)
        .max(15);
    let line = |c: [String; 9]| {
        format!(
            "{:<gw$} {:<tw$} {:<10} {:<15} {:<15} {:<15} {:<iw$} {:<hw$} {}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
        )
    };
    crate::outln!();
    crate::outln!(
        "{}",
        line(
            [
                "GROUP",
                "TOPIC",
                "PARTITION",
                "CURRENT-OFFSET",
                "LOG-END-OFFSET",
                "LAG",
                "CONSUMER-ID",
                "HOST",
                "CLIENT-ID"
            ]
            .map(String::from)
        )
    );
    for r in rows {
        let lag = match (r.current, r.end) {
            (Some(c), Some(e)) => (e - c).max(0).to_string(),
            _ => dash(),
        };
        let (id, host, client) = r.member.clone().unwrap_or_else(|| (dash(), dash(), dash()));
        crate::outln!(
            "{}",
            line([
                group.to_string(),
                r.topic.clone(),
                r.partition.to_string(),
                r.current.map_or_else(dash, |o| o.to_string()),
                r.end.map_or_else(dash, |o| o.to_string()),
                lag,
                id,
                host,
                client,
            ])
        );
    }
    crate::outln!();
    Ok(())
}

async fn delete(client: &mut Client, group: &str) -> Result<(), ToolError> {
    let conn = coordinator(client, group).await?;
    let version = conn.version_for::<DeleteGroupsRequest>(0)?;
    let resp = conn
        .send(
            DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)]),
            version,
        )
        .await?;
    for r in resp.results {
        if r.error_code == ResponseError::GroupIdNotFound.code() {
            return Err(ToolError::Failed(format!(
                "Deletion of some consumer groups failed:\n* Group '{group}' could not be deleted due to: GroupIdNotFoundException: The group id does not exist."
            ).replace('\n', " ")));
        }
        if r.error_code == ResponseError::NonEmptyGroup.code() {
            return Err(ToolError::Failed(format!(
                "Group '{group}' could not be deleted: the group is not empty"
            )));
        }
        if r.error_code != 0 {
            return Err(ToolError::broker("DeleteGroups", r.error_code, None));
        }
    }
    crate::outln!("Deletion of requested consumer groups ('{group}') was successful.");
    Ok(())
}

/// `topic` or `topic:0,1,2`.
fn parse_topic_spec(spec: &str) -> Result<(String, Option<Vec<i32>>), ToolError> {
    match spec.split_once(':') {
        None => Ok((spec.to_string(), None)),
        Some((t, ps)) => {
            let parts = ps
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse()
                        .map_err(|_| ToolError::Usage(format!("bad partition in '{spec}'")))
                })
                .collect::<Result<Vec<i32>, _>>()?;
            Ok((t.to_string(), Some(parts)))
        }
    }
}

async fn delete_offsets(
    client: &mut Client,
    args: &GroupsArgs,
    group: &str,
) -> Result<(), ToolError> {
    if args.topics.is_empty() {
        return Err(ToolError::Usage("--delete-offsets needs --topic".into()));
    }
    let mut topics = Vec::new();
    for spec in &args.topics {
        let (t, parts) = parse_topic_spec(spec)?;
        let parts = match parts {
            Some(p) => p,
            None => {
                let info = client
                    .topic(&t)
                    .await?
                    .ok_or_else(|| ToolError::UnknownTopic(t.clone()))?;
                (0..info.leaders.len() as i32).collect()
            }
        };
        topics.push((t, parts));
    }
    let conn = coordinator(client, group).await?;
    let req = OffsetDeleteRequest::default()
        .with_group_id(group_id(group))
        .with_topics(
            topics
                .iter()
                .map(|(t, ps)| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(
                            ps.iter()
                                .map(|&p| {
                                    OffsetDeleteRequestPartition::default().with_partition_index(p)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let resp = conn.send(req, 0).await?;
    if resp.error_code != 0 {
        return Err(ToolError::broker("OffsetDelete", resp.error_code, None));
    }
    let mut failed = false;
    let mut lines = Vec::new();
    for t in resp.topics {
        for p in t.partitions {
            let status = if p.error_code == 0 {
                "Successful".to_string()
            } else {
                failed = true;
                format!(
                    "Error: {}",
                    ResponseError::try_from_code(p.error_code)
                        .map(|e| format!("{e:?}"))
                        .unwrap_or_else(|| p.error_code.to_string())
                )
            };
            lines.push((t.name.0.to_string(), p.partition_index, status));
        }
    }
    crate::outln!(
        "Request succeed for deleting offsets with topic {} group {group}",
        args.topics.join(",")
    );
    crate::outln!("\n{:<30} {:<15} {:<15}", "TOPIC", "PARTITION", "STATUS");
    for (t, p, s) in lines {
        crate::outln!("{t:<30} {p:<15} {s:<15}");
    }
    if failed {
        return Err(ToolError::Failed(
            "some offsets could not be deleted".into(),
        ));
    }
    Ok(())
}

async fn reset(client: &mut Client, args: &GroupsArgs, group: &str) -> Result<(), ToolError> {
    let specs = [
        args.to_earliest,
        args.to_latest,
        args.to_current,
        args.to_offset.is_some(),
        args.shift_by.is_some(),
        args.to_datetime.is_some(),
    ];
    if specs.iter().filter(|&&s| s).count() != 1 {
        return Err(ToolError::Usage(
            "--reset-offsets needs one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, --to-datetime".into(),
        ));
    }
    if args.dry_run && args.execute {
        return Err(ToolError::Usage(
            "--dry-run and --execute exclude each other".into(),
        ));
    }
    if !args.dry_run && !args.execute {
        eprintln!("WARN: No action will be performed as the --execute option is missing.In a future major release, the default behavior of this command will be to prompt the user before executing the reset rather than doing a dry run. You should add the --dry-run option explicitly if you are scripting this command and want to keep the current default behavior without prompting.");
    }
    let (g, _) = describe_group(client, group).await?;
    let state = g.group_state.to_string();
    if !(state == "Empty" || state == "Dead" || state.is_empty()) {
        return Err(ToolError::Failed(format!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {state}."
        )));
    }
    let committed = fetch_offsets(client, group).await?;
    // The partitions to reset.
    let mut targets: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut infos: BTreeMap<String, TopicInfo> = BTreeMap::new();
    if args.all_topics {
        targets.extend(committed.keys().cloned());
    } else if args.topics.is_empty() {
        return Err(ToolError::Usage(
            "--reset-offsets needs --topic or --all-topics".into(),
        ));
    }
    for spec in &args.topics {
        let (t, parts) = parse_topic_spec(spec)?;
        let info = client
            .topic(&t)
            .await?
            .ok_or_else(|| ToolError::UnknownTopic(t.clone()))?;
        let parts = parts.unwrap_or_else(|| (0..info.leaders.len() as i32).collect());
        targets.extend(parts.into_iter().map(|p| (t.clone(), p)));
        infos.insert(t, info);
    }
    let topics: BTreeSet<String> = targets.iter().map(|(t, _)| t.clone()).collect();
    let earliest = log_end_offsets(client, &topics, -2).await?;
    let latest = log_end_offsets(client, &topics, -1).await?;
    let by_time = match &args.to_datetime {
        Some(dt) => Some(log_end_offsets(client, &topics, parse_datetime(dt)?).await?),
        None => None,
    };
    let mut new_offsets: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
    for key in &targets {
        let lo = earliest.get(key).copied().unwrap_or(0);
        let hi = latest.get(key).copied().unwrap_or(0);
        let current = committed.get(key).copied();
        let target = if args.to_earliest {
            lo
        } else if args.to_latest {
            hi
        } else if args.to_current {
            current.unwrap_or(hi)
        } else if let Some(o) = args.to_offset {
            o
        } else if let Some(s) = args.shift_by {
            current.unwrap_or(hi).saturating_add(s)
        } else {
            match by_time.as_ref().and_then(|m| m.get(key)).copied() {
                Some(o) if o >= 0 => o,
                _ => hi,
            }
        };
        new_offsets
            .entry(key.0.clone())
            .or_default()
            .push((key.1, target.clamp(lo, hi.max(lo))));
    }
    let gw = group.len().max(30);
    let tw = topics.iter().map(String::len).max().unwrap_or(0).max(30);
    crate::outln!(
        "\n{:<gw$} {:<tw$} {:<10} {:<15}",
        "GROUP",
        "TOPIC",
        "PARTITION",
        "NEW-OFFSET"
    );
    for (t, parts) in &new_offsets {
        for (p, o) in parts {
            crate::outln!("{group:<gw$} {t:<tw$} {p:<10} {o:<15}");
        }
    }
    if args.execute {
        let offsets: Vec<(String, Vec<(i32, i64)>)> = new_offsets.into_iter().collect();
        commit_offsets(client, group, &offsets).await?;
    }
    Ok(())
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:mm:SS[.sss][Z|±HH:MM]`
/// (no zone: UTC).
pub fn parse_datetime(s: &str) -> Result<i64, ToolError> {
    let bad = || {
        ToolError::Usage(format!(
            "--to-datetime: cannot parse '{s}' as YYYY-MM-DDTHH:mm:SS.sss"
        ))
    };
    let (date, rest) = s.split_once('T').ok_or_else(bad)?;
    let (time, offset_min) = if let Some(t) = rest.strip_suffix('Z') {
        (t, 0i64)
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let z = &z[1..];
        let (h, m) = z
            .split_once(':')
            .unwrap_or((z.get(..2).unwrap_or(z), z.get(2..).unwrap_or("0")));
        let h: i64 = h.parse().map_err(|_| bad())?;
        let m: i64 = if m.is_empty() {
            0
        } else {
            m.parse().map_err(|_| bad())?
        };
        (t, sign * (h * 60 + m))
    } else {
        (rest, 0)
    };
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [y, mo, day] = d[..] else {
        return Err(bad());
    };
    let (hms, millis) = match time.split_once('.') {
        Some((a, b)) => {
            let frac: String = b.chars().chain("000".chars()).take(3).collect();
            (a, frac.parse::<i64>().map_err(|_| bad())?)
        }
        None => (time, 0),
    };
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, mi, sec) = match t[..] {
        [h, m, s] => (h, m, s),
        [h, m] => (h, m, 0),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + millis)
}

/// Builds an OffsetCommit of a simple consumer (generation -1, no member).
pub(crate) fn simple_commit(
    group: &str,
    offsets: &[(String, Vec<(i32, i64)>)],
) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(group_id(group))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(str_bytes(""))
        .with_retention_time_ms(-1)
        .with_topics(
            offsets
                .iter()
                .map(|(t, parts)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(
                            parts
                                .iter()
                                .map(|&(p, o)| {
                                    OffsetCommitRequestPartition::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(o)
                                        .with_committed_leader_epoch(-1)
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

/// An OffsetFetch for all of `group`'s offsets (single-group form, v1–v7).
pub(crate) fn offset_fetch_all(group: &str) -> OffsetFetchRequest {
    OffsetFetchRequest::default()
        .with_group_id(group_id(group))
        .with_topics(None::<Vec<OffsetFetchRequestTopic>>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_parse_like_kafka() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00.000").unwrap(), 0);
        assert_eq!(
            parse_datetime("2024-01-01T00:00:00Z").unwrap(),
            1_704_067_200_000
        );
        assert_eq!(
            parse_datetime("2024-01-01T01:00:00.5+01:00").unwrap(),
            1_704_067_200_500
        );
        assert!(parse_datetime("yesterday").is_err());
    }

    #[test]
    fn assignments_parse() {
        let mut b = vec![
            0, 1, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
        ];
        b.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(parse_assignment(&b), vec![("t".to_string(), vec![0, 2])]);
        assert!(parse_assignment(&[1]).is_empty());
    }
}

//! The snapshots the console shows, built in-process from the replica
//! manager, the group coordinator, the configuration and the metrics
//! registry; the pages render them and `/api/v1` returns them as JSON.
//!
//! Each snapshot takes a partition's log lock only for the offsets and
//! sizes it reads, one partition at a time, and never across an `.await`.

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::Decodable;
use serde::Serialize;

use super::auth::Access;
use super::sampler::Sampler;
use super::{ConsoleError, Sources};
use crate::authorizer::Check;
use crate::config::ConfigSource;

/// A listener as the overview shows it.
#[derive(Serialize, Clone)]
pub struct ListenerView {
    /// Listener name.
    pub name: String,
    /// `host:port` it binds.
    pub bind: String,
    /// `host:port` clients are given in Metadata.
    pub advertised: String,
    /// Open connections now.
    pub connections: i64,
}

/// A log dir's usage (from the metrics registry's log-dir gauges).
#[derive(Serialize, Clone)]
pub struct LogDirView {
    /// The directory.
    pub log_dir: String,
    /// Bytes used on its file system.
    pub used_bytes: u64,
    /// Bytes free.
    pub free_bytes: u64,
    /// Total size.
    pub total_bytes: u64,
    /// Whether the directory is offline.
    pub offline: bool,
}

/// The overview page.
#[derive(Serialize)]
pub struct Overview {
    /// `broker.id`.
    pub broker_id: i32,
    /// strom's version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// The cluster id.
    pub cluster_id: String,
    /// The controller (this broker).
    pub controller_id: i32,
    /// Listeners with their advertised addresses.
    pub listeners: Vec<ListenerView>,
    /// `zookeeper.connect`, when set.
    pub zookeeper_connect: Option<String>,
    /// The ZooKeeper session state (`connected`, `disconnected`, `expired`),
    /// `none` without ZooKeeper.
    pub zookeeper_state: String,
    /// Topics (internal ones included).
    pub topics: usize,
    /// Partitions over all topics.
    pub partitions: usize,
    /// Consumer groups.
    pub groups: usize,
    /// Usage per log dir.
    pub log_dirs: Vec<LogDirView>,
    /// The process's resident memory.
    pub rss_bytes: u64,
    /// What needs attention.
    pub problems: Vec<String>,
}

/// A group reading a topic, with its lag on it.
#[derive(Serialize, Clone)]
pub struct GroupLag {
    /// The group.
    pub group: String,
    /// Sum over the topic's partitions of end offset − committed offset.
    pub lag: i64,
}

/// A topic in the topic list.
#[derive(Serialize)]
pub struct TopicSummary {
    /// Name.
    pub name: String,
    /// Whether it is internal (`__consumer_offsets`).
    pub internal: bool,
    /// Partitions.
    pub partitions: i32,
    /// Replication factor (1: a single broker).
    pub replication_factor: i32,
    /// Messages held (end − start offsets, summed).
    pub messages: i64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// `retention.ms` in force.
    pub retention_ms: i64,
    /// `cleanup.policy` in force.
    pub cleanup_policy: String,
    /// Messages in per second over the last hour (oldest first).
    pub rate: Vec<f64>,
    /// Groups with committed offsets on the topic.
    pub groups: Vec<GroupLag>,
}

/// One partition on the topic page.
#[derive(Serialize)]
pub struct PartitionView {
    /// Index.
    pub partition: i32,
    /// Log start offset.
    pub start_offset: i64,
    /// End offset (high watermark).
    pub end_offset: i64,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// Segment files.
    pub segments: usize,
}

/// One config with where its value comes from.
#[derive(Serialize)]
pub struct ConfigView {
    /// Kafka's name.
    pub name: String,
    /// Its value (masked when sensitive).
    pub value: Option<String>,
    /// `default`, `broker` or `topic`.
    pub source: &'static str,
    /// Whether the value is a secret (shown masked).
    pub sensitive: bool,
    /// Whether it can be changed here.
    pub read_only: bool,
    /// What it does.
    pub documentation: Option<String>,
}

/// The topic page.
#[derive(Serialize)]
pub struct TopicDetail {
    /// The summary of the list.
    #[serde(flatten)]
    pub summary: TopicSummary,
    /// Topic id (Kafka's base64 form).
    pub topic_id: String,
    /// Partitions.
    pub partition_list: Vec<PartitionView>,
    /// Every topic config with its source.
    pub configs: Vec<ConfigView>,
}

/// A group in the group list.
#[derive(Serialize)]
pub struct GroupSummaryView {
    /// Group id.
    pub group: String,
    /// State (`Stable`, `Empty`, …).
    pub state: String,
    /// Protocol type (`consumer` …).
    pub protocol_type: String,
    /// Members.
    pub members: usize,
    /// Topics with committed offsets or assigned.
    pub topics: Vec<String>,
    /// Total lag over every partition with a committed offset.
    pub lag: i64,
}

/// A member on the group page.
#[derive(Serialize)]
pub struct MemberView {
    /// Member id.
    pub member_id: String,
    /// Static instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Assigned partitions: topic → partitions.
    pub assignment: BTreeMap<String, Vec<i32>>,
}

/// One partition's offsets on the group page.
#[derive(Serialize, Clone)]
pub struct GroupPartitionView {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Committed offset.
    pub committed: i64,
    /// Log start offset.
    pub start_offset: i64,
    /// End offset.
    pub end_offset: i64,
    /// end − committed (0 at least).
    pub lag: i64,
    /// The member it is assigned to, if any.
    pub member: Option<String>,
}

/// The group page.
#[derive(Serialize)]
pub struct GroupDetail {
    /// Group id.
    pub group: String,
    /// State.
    pub state: String,
    /// Protocol type.
    pub protocol_type: String,
    /// Selected protocol (assignor).
    pub protocol: String,
    /// Members.
    pub members: Vec<MemberView>,
    /// Per-partition offsets and lag.
    pub offsets: Vec<GroupPartitionView>,
    /// Total lag.
    pub lag: i64,
    /// Total lag over the last hour (oldest first).
    pub lag_history: Vec<f64>,
}

/// A broker property on the broker page.
pub type BrokerConfigView = ConfigView;

/// The console's name for a config source.
fn source_name(source: ConfigSource) -> &'static str {
    match source {
        ConfigSource::DynamicTopic => "topic",
        ConfigSource::Default => "default",
        _ => "broker",
    }
}

/// Secrets are never shown.
const MASK: &str = "******";

fn config_view(e: crate::config::ConfigEntry) -> ConfigView {
    let value = if e.sensitive {
        e.value.map(|_| MASK.to_string())
    } else {
        e.value
    };
    ConfigView {
        name: e.name,
        value,
        source: source_name(e.source),
        sensitive: e.sensitive,
        read_only: e.read_only,
        documentation: e.documentation,
    }
}

/// Whether a property name holds a secret even when not typed as a password.
fn looks_secret(name: &str) -> bool {
    ["password", "secret", "sasl.jaas.config", ".key"]
        .iter()
        .any(|s| name.contains(s))
}

/// Every broker property with its value and source; secrets masked.
/// DESCRIBE_CONFIGS on the cluster (DescribeConfigs of the broker).
pub fn broker_configs(s: &Sources, a: &Access) -> Result<Vec<BrokerConfigView>, ConsoleError> {
    a.require(
        Check::DescribeConfigsBroker,
        crate::authorizer::CLUSTER_NAME,
    )?;
    Ok(s.config
        .describe_broker_configs(false)
        .into_iter()
        .map(|mut e| {
            e.sensitive = e.sensitive || looks_secret(&e.name);
            config_view(e)
        })
        .collect())
}

/// Committed offsets of every group: group → topic → partition → offset.
type Committed = BTreeMap<String, BTreeMap<String, BTreeMap<i32, i64>>>;

/// Every group's committed offsets (empty while the coordinator loads).
fn committed_offsets(s: &Sources) -> Committed {
    let mut out = Committed::new();
    let groups = s.coordinator.list_groups(&[]).unwrap_or_default();
    for (group, _, _) in groups {
        let Ok(topics) = s.coordinator.fetch_offsets(&group, None) else {
            continue;
        };
        let entry = out.entry(group).or_default();
        for (topic, parts) in topics {
            let t = entry.entry(topic).or_default();
            for (p, v) in parts {
                if let Some(v) = v {
                    t.insert(p, v.offset);
                }
            }
        }
    }
    out
}

/// End offsets of every partition: topic → [end offset by partition].
fn end_offsets(s: &Sources) -> HashMap<String, Vec<i64>> {
    s.replica_manager
        .topics()
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                t.partitions
                    .iter()
                    .map(|p| p.offsets().high_watermark)
                    .collect(),
            )
        })
        .collect()
}

fn lag_of(ends: &[i64], parts: &BTreeMap<i32, i64>) -> i64 {
    parts
        .iter()
        .filter_map(|(p, c)| {
            let end = *usize::try_from(*p).ok().and_then(|i| ends.get(i))?;
            Some(end.saturating_sub(*c).max(0))
        })
        .sum()
}

/// Total lag per group, for the sampler.
pub fn group_lags(s: &Sources) -> BTreeMap<String, i64> {
    let ends = end_offsets(s);
    committed_offsets(s)
        .into_iter()
        .map(|(g, topics)| {
            let lag = topics
                .iter()
                .map(|(t, parts)| ends.get(t).map_or(0, |e| lag_of(e, parts)))
                .sum();
            (g, lag)
        })
        .collect()
}

/// The overview. Broker facts are everyone's (as Metadata's brokers and
/// DescribeCluster); the counts and the problems name only the topics and
/// groups the viewer may describe.
pub fn overview(s: &Sources, a: &Access, uptime_seconds: u64, sampler: &Sampler) -> Overview {
    let all_topics = s.replica_manager.topics();
    let (mut topics, mut partitions) = (0, 0);
    for (name, t) in all_topics.iter() {
        if a.shows(Check::MetadataTopic, name) {
            topics += 1;
            partitions += t.partitions.len();
        }
    }
    let groups = s
        .coordinator
        .list_groups(&[])
        .map(|g| {
            g.iter()
                .filter(|(id, _, _)| a.shows(Check::DescribeGroups, id))
                .count()
        })
        .unwrap_or(0);
    let connections = sampler.connections_now();
    let listeners = s
        .config
        .listeners
        .iter()
        .map(|l| {
            let adv = s
                .config
                .advertised_listeners
                .iter()
                .find(|a| a.name == l.name)
                .unwrap_or(l);
            ListenerView {
                name: l.name.clone(),
                bind: format!("{}:{}", l.host, l.port),
                advertised: format!("{}:{}", adv.host, adv.port),
                connections: connections.get(&l.name).copied().unwrap_or(0),
            }
        })
        .collect();
    let log_dirs: Vec<LogDirView> = crate::metrics::log_dir_usage()
        .into_iter()
        .map(|u| LogDirView {
            log_dir: u.log_dir.display().to_string(),
            used_bytes: u.used_bytes,
            free_bytes: u.free_bytes,
            total_bytes: u.total_bytes,
            offline: u.offline,
        })
        .collect();
    let zookeeper_state = if s.config.zookeeper_connect.is_some() {
        sampler.zookeeper_state()
    } else {
        "none".to_string()
    };
    let mut problems = Vec::new();
    if s.config.zookeeper_connect.is_some() && zookeeper_state != "connected" {
        problems.push(format!("ZooKeeper session {zookeeper_state}"));
    }
    for d in &log_dirs {
        if d.offline {
            problems.push(format!("log dir {} is offline", d.log_dir));
        } else {
            // df's Use%: used / (used + available).
            let reachable = d.used_bytes.saturating_add(d.free_bytes);
            let ratio = if reachable == 0 {
                0.0
            } else {
                d.used_bytes as f64 / reachable as f64
            };
            if ratio > 0.85 {
                problems.push(format!(
                    "log dir {} is {:.0} % full",
                    d.log_dir,
                    ratio * 100.0
                ));
            }
        }
    }
    for g in sampler
        .groups_with_growing_lag()
        .into_iter()
        .filter(|g| a.shows(Check::DescribeGroups, g))
    {
        problems.push(format!("lag of group {g} has grown for 5 minutes"));
    }
    Overview {
        broker_id: s.config.broker_id,
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds,
        cluster_id: s.broker.cluster_id(),
        controller_id: s.config.broker_id,
        listeners,
        zookeeper_connect: s.config.zookeeper_connect.clone(),
        zookeeper_state,
        topics,
        partitions,
        groups,
        log_dirs,
        rss_bytes: sampler
            .rss_bytes()
            .unwrap_or_else(crate::metrics::process_rss_bytes),
        problems,
    }
}

fn summary(
    a: &Access,
    name: &str,
    t: &crate::replica_manager::Topic,
    committed: &Committed,
    sampler: &Sampler,
) -> TopicSummary {
    let (mut messages, mut size, mut ends) = (0i64, 0u64, Vec::with_capacity(t.partitions.len()));
    let mut config = None;
    for p in &t.partitions {
        let (o, bytes, cfg) = p.with_log(|l| {
            let first = config.is_none().then(|| {
                let c = l.config();
                (c.retention_ms, c.cleanup_compact, c.cleanup_delete)
            });
            (
                (l.log_start_offset(), l.log_end_offset()),
                l.size_bytes(),
                first,
            )
        });
        if config.is_none() {
            config = cfg;
        }
        messages += o.1.saturating_sub(o.0);
        size += bytes;
        ends.push(o.1);
    }
    let (retention_ms, compact, delete) = config.unwrap_or((-1, false, true));
    let cleanup_policy = match (delete, compact) {
        (true, true) => "compact,delete",
        (false, true) => "compact",
        _ => "delete",
    }
    .to_string();
    let groups = committed
        .iter()
        .filter(|(g, _)| a.shows(Check::DescribeGroups, g))
        .filter_map(|(g, topics)| {
            topics.get(name).map(|parts| GroupLag {
                group: g.clone(),
                lag: lag_of(&ends, parts),
            })
        })
        .collect();
    TopicSummary {
        name: name.to_string(),
        internal: name.starts_with("__"),
        partitions: t.metadata.partitions,
        replication_factor: 1,
        messages,
        size_bytes: size,
        retention_ms,
        cleanup_policy,
        rate: sampler.topic_rate(name),
        groups,
    }
}

/// The topic list, by name; `q` keeps the names containing it. Only the
/// topics the viewer may describe (as Metadata lists them).
pub fn topics(s: &Sources, a: &Access, q: Option<&str>, sampler: &Sampler) -> Vec<TopicSummary> {
    let committed = committed_offsets(s);
    let topics = s.replica_manager.topics();
    let q = q.map(str::to_lowercase).filter(|q| !q.is_empty());
    let mut names: Vec<&String> = topics
        .keys()
        .filter(|n| q.as_ref().is_none_or(|q| n.to_lowercase().contains(q)))
        .filter(|n| a.shows(Check::MetadataTopic, n))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| {
            let t = topics.get(n)?;
            Some(summary(a, n, t, &committed, sampler))
        })
        .collect()
}

/// The topic page: DESCRIBE on the topic (Metadata naming it); its configs
/// with DESCRIBE_CONFIGS (DescribeConfigs), else none are shown.
pub fn topic(
    s: &Sources,
    a: &Access,
    name: &str,
    sampler: &Sampler,
) -> Result<TopicDetail, ConsoleError> {
    a.require(Check::MetadataTopic, name)?;
    let t = s
        .replica_manager
        .topic(name)
        .ok_or_else(|| ConsoleError::NotFound(format!("no topic {name}")))?;
    let committed = committed_offsets(s);
    let partition_list = t
        .partitions
        .iter()
        .map(|p| {
            p.with_log(|l| PartitionView {
                partition: p.index,
                start_offset: l.log_start_offset(),
                end_offset: l.log_end_offset(),
                size_bytes: l.size_bytes(),
                segments: l.segment_count(),
            })
        })
        .collect();
    let configs = if a.shows(Check::DescribeConfigsTopic, name) {
        s.config
            .describe_topic_configs(&t.metadata.configs, false)
            .into_iter()
            .map(config_view)
            .collect()
    } else {
        Vec::new()
    };
    Ok(TopicDetail {
        summary: summary(a, name, &t, &committed, sampler),
        topic_id: crate::util::uuid_to_base64(t.metadata.topic_id),
        partition_list,
        configs,
    })
}

/// The topics and partitions of a consumer-protocol assignment.
fn assignment_of(bytes: &[u8]) -> BTreeMap<String, Vec<i32>> {
    let mut out = BTreeMap::new();
    if bytes.len() < 2 {
        return out;
    }
    let mut buf = bytes::Bytes::copy_from_slice(bytes);
    let version = i16::from_be_bytes([bytes[0], bytes[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    // Versions beyond what kafka-protocol decodes are read as the highest.
    let v = version.clamp(0, 3);
    if let Ok(a) = ConsumerProtocolAssignment::decode(&mut buf, v) {
        for tp in a.assigned_partitions {
            out.insert(tp.topic.0.to_string(), tp.partitions);
        }
    }
    out
}

/// The group list: the groups the viewer may describe (as ListGroups
/// lists them), each with the topics the viewer may describe.
pub fn groups(s: &Sources, a: &Access) -> Result<Vec<GroupSummaryView>, ConsoleError> {
    let list = s
        .coordinator
        .list_groups(&[])
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    // ListGroups: DESCRIBE on the cluster lists every group, else the
    // groups described one by one.
    let all = a.shows(Check::ListGroupsCluster, crate::authorizer::CLUSTER_NAME);
    let list = list
        .into_iter()
        .filter(|(g, _, _)| all || a.shows(Check::ListGroupsGroup, g));
    let committed = committed_offsets(s);
    let ends = end_offsets(s);
    let mut out: Vec<GroupSummaryView> = list
        .into_iter()
        .map(|(group, protocol_type, state)| {
            let desc = s.coordinator.describe_group(&group).ok();
            let mut topics: Vec<String> = committed
                .get(&group)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default();
            for m in desc.iter().flat_map(|d| d.members.iter()) {
                topics.extend(assignment_of(&m.assignment).into_keys());
            }
            topics.retain(|t| a.shows(Check::MetadataTopic, t));
            topics.sort();
            topics.dedup();
            let lag = committed.get(&group).map_or(0, |t| {
                t.iter()
                    .map(|(topic, parts)| ends.get(topic).map_or(0, |e| lag_of(e, parts)))
                    .sum()
            });
            GroupSummaryView {
                members: desc.as_ref().map_or(0, |d| d.members.len()),
                group,
                state,
                protocol_type,
                topics,
                lag,
            }
        })
        .collect();
    out.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(out)
}

/// The group page: DESCRIBE on the group (DescribeGroups); the offsets of
/// the topics the viewer may describe (as OffsetFetch leaves the others out).
pub fn group(
    s: &Sources,
    a: &Access,
    id: &str,
    sampler: &Sampler,
) -> Result<GroupDetail, ConsoleError> {
    a.require(Check::DescribeGroups, id)?;
    let desc = s
        .coordinator
        .describe_group(id)
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    let committed = s
        .coordinator
        .fetch_offsets(id, None)
        .map_err(|e| ConsoleError::from_kafka(e.code(), e.to_string()))?;
    if desc.state == "Dead" && committed.is_empty() {
        return Err(ConsoleError::NotFound(format!("no group {id}")));
    }
    let members: Vec<MemberView> = desc
        .members
        .iter()
        .map(|m| MemberView {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            assignment: assignment_of(&m.assignment),
        })
        .collect();
    let owner = |topic: &str, p: i32| {
        members
            .iter()
            .find(|m| m.assignment.get(topic).is_some_and(|ps| ps.contains(&p)))
            .map(|m| m.member_id.clone())
    };
    let mut offsets = Vec::new();
    for (topic, parts) in &committed {
        if !a.shows(Check::OffsetFetchTopic, topic) {
            continue;
        }
        let t = s.replica_manager.topic(topic);
        for (p, v) in parts {
            let Some(v) = v else { continue };
            let (start, end) = t
                .as_ref()
                .and_then(|t| t.partition(*p))
                .map(|part| {
                    let o = part.offsets();
                    (o.log_start_offset, o.high_watermark)
                })
                .unwrap_or((-1, -1));
            offsets.push(GroupPartitionView {
                topic: topic.clone(),
                partition: *p,
                committed: v.offset,
                start_offset: start,
                end_offset: end,
                lag: if end >= 0 {
                    end.saturating_sub(v.offset).max(0)
                } else {
                    0
                },
                member: owner(topic, *p),
            });
        }
    }
    offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    let lag = offsets.iter().map(|o| o.lag).sum();
    Ok(GroupDetail {
        group: id.to_string(),
        state: desc.state,
        protocol_type: desc.protocol_type,
        protocol: desc.protocol,
        members,
        offsets,
        lag,
        lag_history: sampler.group_lag_history(id),
    })
}

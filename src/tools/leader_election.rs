//! `strom leader-election` / `kafka-leader-election --election-type
//! preferred|unclean (--all-topic-partitions | --topic T --partition P |
//! --path-to-json-file F)`: Kafka 3.5's `LeaderElectionCommand`. ElectLeaders,
//! then Kafka's report: "Successfully completed leader election (…) for
//! partitions …", "Valid replica already elected for partitions …", and for
//! each failure "Error completing leader election (…) for partition: t-p:
//! <exception>", exiting 1.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::ElectLeadersRequest;

use super::{connect, deadline, ToolError};
use crate::client::topic_name;

/// kafka-leader-election's flags.
#[derive(Debug, clap::Args)]
pub struct LeaderElectionArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// `preferred` or `unclean`.
    #[arg(long)]
    pub election_type: String,
    /// Elect leaders of every partition.
    #[arg(long)]
    pub all_topic_partitions: bool,
    /// The topic (with --partition).
    #[arg(long)]
    pub topic: Option<String>,
    /// The partition (with --topic).
    #[arg(long)]
    pub partition: Option<i32>,
    /// JSON file `{"partitions":[{"topic":"t","partition":0}]}`.
    #[arg(long)]
    pub path_to_json_file: Option<std::path::PathBuf>,
    /// Admin client properties file (accepted; not read).
    #[arg(long = "admin.config")]
    pub admin_config: Option<String>,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

#[derive(serde::Deserialize)]
struct PartitionsFile {
    partitions: Vec<PartitionEntry>,
}

#[derive(serde::Deserialize)]
struct PartitionEntry {
    topic: String,
    partition: i32,
}

/// The Java exception Kafka's tool prints for an error code.
fn exception(code: i16, message: Option<&str>) -> String {
    let class = match code {
        3 => "UnknownTopicOrPartitionException",
        5 => "LeaderNotAvailableException",
        6 => "NotLeaderOrFollowerException",
        42 => "InvalidRequestException",
        80 => "PreferredLeaderNotAvailableException",
        83 => "EligibleLeadersNotAvailableException",
        _ => "UnknownServerException",
    };
    match message {
        Some(m) => format!("org.apache.kafka.common.errors.{class}: {m}"),
        None => format!("org.apache.kafka.common.errors.{class}"),
    }
}

/// The partitions asked for: `None` for all.
fn wanted(args: &LeaderElectionArgs) -> Result<Option<Vec<(String, i32)>>, ToolError> {
    let given = [
        args.all_topic_partitions,
        args.topic.is_some(),
        args.path_to_json_file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ToolError::Usage(
            "One and only one of the following options is required: --all-topic-partitions, --topic, --path-to-json-file".into(),
        ));
    }
    match (&args.topic, args.partition) {
        (Some(_), None) => {
            return Err(ToolError::Usage(
                "Missing required option(s): --partition".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(ToolError::Usage(
                "Option --partition is only allowed if --topic is used".into(),
            ))
        }
        _ => {}
    }
    if let (Some(t), Some(p)) = (&args.topic, args.partition) {
        return Ok(Some(vec![(t.clone(), p)]));
    }
    if let Some(path) = &args.path_to_json_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ToolError::Io(format!("cannot read {}", path.display()), e))?;
        let file: PartitionsFile = serde_json::from_str(&text).map_err(|e| {
            ToolError::Usage(format!("{} is not a partitions file: {e}", path.display()))
        })?;
        return Ok(Some(
            file.partitions
                .into_iter()
                .map(|p| (p.topic, p.partition))
                .collect(),
        ));
    }
    Ok(None)
}

pub async fn run(args: LeaderElectionArgs) -> Result<(), ToolError> {
    let (election_type, label) = match args.election_type.to_ascii_lowercase().as_str() {
        "preferred" => (0i8, "PREFERRED"),
        "unclean" => (1i8, "UNCLEAN"),
        other => {
            return Err(ToolError::Usage(format!(
                "--election-type must be preferred or unclean, not '{other}'"
            )))
        }
    };
    let partitions = wanted(&args)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-leader-election", timeout).await?;
    let conn = client.any();
    let version = conn.version_for::<ElectLeadersRequest>(0)?;
    if version == 0 && election_type != 0 {
        return Err(ToolError::Failed(
            "the broker supports only preferred leader elections (ElectLeaders v0)".into(),
        ));
    }
    let topic_partitions = partitions.map(|list| {
        let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in list {
            by_topic.entry(t).or_default().push(p);
        }
        by_topic
            .into_iter()
            .map(|(t, ps)| {
                TopicPartitions::default()
                    .with_topic(topic_name(&t))
                    .with_partitions(ps)
            })
            .collect()
    });
    let timeout_ms = i32::try_from(args.timeout_ms).unwrap_or(i32::MAX);
    let req = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(timeout_ms);
    let resp = deadline(timeout, "electing leaders", conn.send(req, version)).await?;
    if resp.error_code != 0 {
        return Err(ToolError::broker("ElectLeaders", resp.error_code, None));
    }
    let (mut succeeded, mut noop, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for t in &resp.replica_election_results {
        for p in &t.partition_result {
            let tp = format!("{}-{}", t.topic.0.as_str(), p.partition_id);
            match p.error_code {
                0 => succeeded.push(tp),
                84 => noop.push(tp),
                code => failed.push((tp, exception(code, p.error_message.as_deref()))),
            }
        }
    }
    if !succeeded.is_empty() {
        crate::outln!(
            "Successfully completed leader election ({label}) for partitions {}",
            succeeded.join(", ")
        );
    }
    if !noop.is_empty() {
        crate::outln!(
            "Valid replica already elected for partitions {}",
            noop.join(", ")
        );
    }
    if !failed.is_empty() {
        for (tp, e) in &failed {
            crate::outln!("Error completing leader election ({label}) for partition: {tp}: {e}");
        }
        return Err(ToolError::Failed(format!(
            "{} replica(s) could not be elected",
            failed.len()
        )));
    }
    Ok(())
}

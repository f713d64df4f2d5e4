//! `strom reassign-partitions` / `kafka-reassign-partitions --list`: Kafka
//! 3.5's `ReassignPartitionsCommand` listing the reassignments in progress
//! (ListPartitionReassignments), printed as Kafka prints them:
//! "No partition reassignments found." or "Current partition
//! reassignments:" and one `t-p: replicas: 1,2. adding: 2. removing: 3.`
//! line each. Only `--list` is implemented.

use std::time::Duration;

use kafka_protocol::messages::ListPartitionReassignmentsRequest;

use super::{connect, deadline, ToolError};

/// kafka-reassign-partitions' flags.
#[derive(Debug, clap::Args)]
pub struct ReassignArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// List the reassignments in progress.
    #[arg(long)]
    pub list: bool,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

fn ids(list: &[kafka_protocol::messages::BrokerId]) -> String {
    list.iter()
        .map(|b| b.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn run(args: ReassignArgs) -> Result<(), ToolError> {
    if !args.list {
        return Err(ToolError::Usage(
            "only --list is supported (a single broker has nothing to reassign)".into(),
        ));
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-reassign-partitions", timeout).await?;
    let conn = client.any();
    let version = conn.version_for::<ListPartitionReassignmentsRequest>(0)?;
    let req = ListPartitionReassignmentsRequest::default()
        .with_timeout_ms(i32::try_from(args.timeout_ms).unwrap_or(i32::MAX))
        .with_topics(None);
    let resp = deadline(timeout, "listing reassignments", conn.send(req, version)).await?;
    if resp.error_code != 0 {
        return Err(ToolError::broker(
            "ListPartitionReassignments",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let mut lines: Vec<(String, i32, String)> = Vec::new();
    for t in &resp.topics {
        for p in &t.partitions {
            let mut line = format!(
                "{}-{}: replicas: {}.",
                t.name.0.as_str(),
                p.partition_index,
                ids(&p.replicas)
            );
            if !p.adding_replicas.is_empty() {
                line.push_str(&format!(" adding: {}.", ids(&p.adding_replicas)));
            }
            if !p.removing_replicas.is_empty() {
                line.push_str(&format!(" removing: {}.", ids(&p.removing_replicas)));
            }
            lines.push((t.name.0.to_string(), p.partition_index, line));
        }
    }
    lines.sort();
    if lines.is_empty() {
        crate::outln!("No partition reassignments found.");
    } else {
        crate::outln!("Current partition reassignments:");
        for (_, _, line) in lines {
            crate::outln!("{line}");
        }
    }
    Ok(())
}

//! `strom transactions` / `kafka-transactions [--bootstrap-server X]
//! describe-producers --topic T --partition P [--broker-id B]`: Kafka 3.5's
//! `TransactionsCommand` (its describe-producers command; strom has no
//! transactions for the others). DescribeProducers to the partition's
//! leader (or `--broker-id`), printed as Kafka's tab-separated table with
//! columns padded to the widest value.

use std::time::Duration;

use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::DescribeProducersRequest;

use super::{connect, deadline, ToolError};
use crate::client::topic_name;

/// kafka-transactions' flags.
#[derive(Debug, clap::Args)]
pub struct TransactionsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, global = true, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, global = true, default_value_t = 10_000)]
    pub timeout_ms: u64,
    #[command(subcommand)]
    pub command: TransactionsCommand,
}

/// kafka-transactions' commands.
#[derive(Debug, clap::Subcommand)]
pub enum TransactionsCommand {
    /// Describe the active producers of a partition.
    DescribeProducers {
        /// The topic.
        #[arg(long)]
        topic: String,
        /// The partition.
        #[arg(long)]
        partition: i32,
        /// Ask this broker instead of the partition's leader.
        #[arg(long)]
        broker_id: Option<i32>,
    },
}

/// Kafka's `prettyPrintTable`: every column padded to its widest cell, each
/// cell followed by a tab.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        for (cell, w) in cells.zip(&widths) {
            out.push_str(&format!("{cell:<w$}\t"));
        }
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

pub async fn run(args: TransactionsArgs) -> Result<(), ToolError> {
    let TransactionsCommand::DescribeProducers {
        topic,
        partition,
        broker_id,
    } = args.command;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-transactions", timeout).await?;
    let broker_clause = broker_id.map_or("leader".to_string(), |b| format!("broker {b}"));
    let failed = |why: &str| {
        ToolError::Failed(format!(
            "Failed to describe producers for partition {topic}-{partition} on {broker_clause}: {why}. Enable debug logging for additional detail."
        ))
    };
    let node = match broker_id {
        Some(b) => b,
        None => {
            let info = deadline(timeout, "looking up the topic", client.topic(&topic)).await?;
            match info.and_then(|i| i.leaders.get(usize::try_from(partition).ok()?).copied()) {
                Some(leader) if leader >= 0 => leader,
                Some(_) => return Err(failed("There is no leader for this topic-partition as we are in the middle of a leadership election")),
                None => return Err(failed("This server does not host this topic-partition")),
            }
        }
    };
    let conn = deadline(
        timeout,
        format!("connecting to broker {node}"),
        client.broker(node),
    )
    .await?;
    let version = conn.version_for::<DescribeProducersRequest>(0)?;
    let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(topic_name(&topic))
        .with_partition_indexes(vec![partition])]);
    let resp = deadline(timeout, "describing producers", conn.send(req, version)).await?;
    let result = resp
        .topics
        .iter()
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| failed("the broker's answer lacks the partition"))?;
    if result.error_code != 0 {
        let message = if result.error_code == 3 {
            "This server does not host this topic-partition".to_string()
        } else {
            format!("error code {}", result.error_code)
        };
        let message = result
            .error_message
            .as_ref()
            .map_or(message, |m| m.to_string());
        return Err(failed(message.trim_end_matches('.')));
    }
    let rows: Vec<Vec<String>> = result
        .active_producers
        .iter()
        .map(|p| {
            vec![
                p.producer_id.0.to_string(),
                p.producer_epoch.to_string(),
                p.coordinator_epoch.to_string(),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                if p.current_txn_start_offset >= 0 {
                    p.current_txn_start_offset.to_string()
                } else {
                    "None".to_string()
                },
            ]
        })
        .collect();
    crate::out!(
        "{}",
        table(
            &[
                "ProducerId",
                "ProducerEpoch",
                "LatestCoordinatorEpoch",
                "LastSequence",
                "LastTimestamp",
                "CurrentTransactionStartOffset",
            ],
            &rows
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_and_tabs_like_kafka() {
        let t = table(&["A", "Long"], &[vec!["12345".into(), "x".into()]]);
        assert_eq!(t, "A    \tLong\t\n12345\tx   \t\n");
    }
}

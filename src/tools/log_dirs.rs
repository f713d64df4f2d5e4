//! `strom log-dirs` / `kafka-log-dirs --describe [--topic-list t1,t2]
//! [--broker-list 1,2]`: Kafka 3.5's `LogDirsCommand`. DescribeLogDirs (all
//! topics) to each broker, printed as Kafka prints it: two progress lines,
//! then one JSON line `{"version":1,"brokers":[{"broker":1,"logDirs":[{"logDir":…,
//! "error":null,"partitions":[{"partition":"t-0","size":…,"offsetLag":0,"isFuture":false}]}]}]}`,
//! keys in Kafka's order, partitions filtered by `--topic-list`.

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_protocol::messages::DescribeLogDirsRequest;

use super::{connect, deadline, ToolError};

/// kafka-log-dirs' flags.
#[derive(Debug, clap::Args)]
pub struct LogDirsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// Describe the log dirs (the one action).
    #[arg(long)]
    pub describe: bool,
    /// Comma-separated topics to show (all when empty).
    #[arg(long, default_value = "")]
    pub topic_list: String,
    /// Comma-separated broker ids to ask (all when absent).
    #[arg(long)]
    pub broker_list: Option<String>,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// The Java exception class Kafka's tool names for an error code.
fn exception_name(code: i16) -> &'static str {
    match code {
        56 => "org.apache.kafka.common.errors.KafkaStorageException",
        31 => "org.apache.kafka.common.errors.ClusterAuthorizationException",
        _ => "org.apache.kafka.common.errors.UnknownServerException",
    }
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

pub async fn run(args: LogDirsArgs) -> Result<(), ToolError> {
    if !args.describe {
        return Err(ToolError::Usage(
            "Command must include option '--describe'".into(),
        ));
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-log-dirs", timeout).await?;
    let topics: BTreeSet<&str> = args
        .topic_list
        .split(',')
        .filter(|t| !t.is_empty())
        .collect();
    let cluster = client.broker_ids();
    let brokers: Vec<i32> = match &args.broker_list {
        None => cluster.clone(),
        Some(list) => {
            let mut ids = BTreeSet::new();
            for id in list.split(',').filter(|s| !s.is_empty()) {
                ids.insert(id.trim().parse::<i32>().map_err(|_| {
                    ToolError::Usage(format!("invalid broker id '{id}' in --broker-list"))
                })?);
            }
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !cluster.contains(id))
                .map(i32::to_string)
                .collect();
            if !missing.is_empty() {
                let existing: Vec<String> = cluster.iter().map(i32::to_string).collect();
                crate::outln!(
                    "ERROR: The given brokers do not exist from --broker-list: {}. Current existent brokers: {}",
                    missing.join(","),
                    existing.join(",")
                );
                return Ok(());
            }
            ids.into_iter().collect()
        }
    };
    crate::outln!("Querying brokers for log directories information");
    let mut broker_json = Vec::with_capacity(brokers.len());
    for &id in &brokers {
        let conn = deadline(
            timeout,
            format!("connecting to broker {id}"),
            client.broker(id),
        )
        .await?;
        let version = conn.version_for::<DescribeLogDirsRequest>(1)?;
        let req = DescribeLogDirsRequest::default().with_topics(None);
        let resp = deadline(timeout, "describing log dirs", conn.send(req, version)).await?;
        if resp.error_code != 0 {
            return Err(ToolError::broker("DescribeLogDirs", resp.error_code, None));
        }
        let mut dirs = Vec::with_capacity(resp.results.len());
        for dir in &resp.results {
            let mut parts: Vec<(String, i32, i64, i64, bool)> = Vec::new();
            for t in &dir.topics {
                if !topics.is_empty() && !topics.contains(t.name.0.as_str()) {
                    continue;
                }
                for p in &t.partitions {
                    parts.push((
                        t.name.0.to_string(),
                        p.partition_index,
                        p.partition_size,
                        p.offset_lag,
                        p.is_future_key,
                    ));
                }
            }
            parts.sort();
            let parts: Vec<String> = parts
                .iter()
                .map(|(t, p, size, lag, future)| {
                    format!(
                        "{{\"partition\":{},\"size\":{size},\"offsetLag\":{lag},\"isFuture\":{future}}}",
                        json_str(&format!("{t}-{p}"))
                    )
                })
                .collect();
            let error = if dir.error_code == 0 {
                "null".to_string()
            } else {
                json_str(exception_name(dir.error_code))
            };
            dirs.push(format!(
                "{{\"logDir\":{},\"error\":{error},\"partitions\":[{}]}}",
                json_str(dir.log_dir.as_str()),
                parts.join(",")
            ));
        }
        broker_json.push(format!(
            "{{\"broker\":{id},\"logDirs\":[{}]}}",
            dirs.join(",")
        ));
    }
    let ids: Vec<String> = brokers.iter().map(i32::to_string).collect();
    crate::outln!(
        "Received log directory information from brokers {}",
        ids.join(",")
    );
    crate::outln!("{{\"version\":1,\"brokers\":[{}]}}", broker_json.join(","));
    Ok(())
}

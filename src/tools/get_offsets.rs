//! `strom get-offsets` / `kafka-get-offsets`: Kafka 3.5's `GetOffsetShell`,
//! printing `topic:partition:offset` per partition for `--time` (-1 latest,
//! -2 earliest, or a timestamp in ms: the first offset at or after it).

use std::time::Duration;

use super::{connect, deadline, ToolError};

/// kafka-get-offsets' flags.
#[derive(Debug, clap::Args)]
pub struct GetOffsetsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, alias = "broker-list", default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// The topic (all topics when absent).
    #[arg(long)]
    pub topic: Option<String>,
    /// Comma-separated partitions (all when absent).
    #[arg(long)]
    pub partitions: Option<String>,
    /// -1 (latest), -2 (earliest) or a timestamp in ms.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub time: i64,
    /// Leave out internal topics when listing all.
    #[arg(long)]
    pub exclude_internal_topics: bool,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

pub async fn run(args: GetOffsetsArgs) -> Result<(), ToolError> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-get-offsets", timeout).await?;
    let wanted: Option<Vec<i32>> = match &args.partitions {
        None => None,
        Some(s) => Some(
            s.split(',')
                .map(|p| {
                    p.trim()
                        .parse()
                        .map_err(|_| ToolError::Usage(format!("bad partition list '{s}'")))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let topics: Vec<String> = match &args.topic {
        Some(t) => vec![t.clone()],
        None => {
            let meta = deadline(timeout, "listing topics", client.metadata(&[])).await?;
            let mut v: Vec<String> = meta
                .topics
                .iter()
                .filter(|t| !(args.exclude_internal_topics && t.is_internal))
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .collect();
            v.sort();
            v
        }
    };
    for name in topics {
        let info = deadline(timeout, "looking up the topic", client.topic(&name))
            .await?
            .ok_or_else(|| ToolError::UnknownTopic(name.clone()))?;
        let offsets = deadline(
            timeout,
            "listing offsets",
            client.list_offsets(&info, args.time),
        )
        .await?;
        for (p, o) in offsets.iter().enumerate() {
            let p = p as i32;
            if wanted.as_ref().is_some_and(|w| !w.contains(&p)) {
                continue;
            }
            // Kafka prints nothing for a partition with no offset at that time.
            if *o >= 0 {
                crate::outln!("{name}:{p}:{o}");
            }
        }
    }
    Ok(())
}

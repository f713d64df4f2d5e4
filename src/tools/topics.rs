//! `strom topics` / `kafka-topics`: `--list`, `--create`, `--describe`,
//! `--delete`, `--alter --partitions`, printing what Kafka 3.5's
//! `TopicCommand` prints (describe: Metadata + DescribeConfigs per topic,
//! configs whose source is not the default). As in Kafka, `--topic` of
//! `--describe`, `--delete` and `--alter` is a regular expression matched
//! against whole topic names (`--topic 'dev.*'`); `--create` takes a name.

use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    MetadataResponse,
};
use kafka_protocol::ResponseError;

use super::{connect, deadline, parse_props, str_bytes, ToolError, TopicFilter};
use crate::client::{topic_name, Client};

/// DescribeConfigs' resource type for topics.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
/// DescribeConfigs' config source `DEFAULT_CONFIG`.
pub(crate) const SOURCE_DEFAULT: i8 = 5;

/// kafka-topics' flags.
#[derive(Debug, clap::Args)]
pub struct TopicsArgs {
    /// Comma-separated `host:port` list.
    #[arg(long, default_value = "localhost:9092")]
    pub bootstrap_server: String,
    /// List all topics.
    #[arg(long)]
    pub list: bool,
    /// Create a topic.
    #[arg(long)]
    pub create: bool,
    /// Describe topics (all, or --topic).
    #[arg(long)]
    pub describe: bool,
    /// Delete a topic.
    #[arg(long)]
    pub delete: bool,
    /// Change the partition count of a topic.
    #[arg(long)]
    pub alter: bool,
    /// The topic; for --describe, --delete and --alter a regular expression
    /// (Kafka's: matched against whole names, commas separating alternatives).
    #[arg(long)]
    pub topic: Option<String>,
    /// Partitions for --create, new partition count for --alter.
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replication factor for --create.
    #[arg(long)]
    pub replication_factor: Option<i16>,
    /// Topic config `k=v` for --create (repeatable).
    #[arg(long = "config")]
    pub configs: Vec<String>,
    /// --create: no error if the topic exists.
    #[arg(long)]
    pub if_not_exists: bool,
    /// --delete/--alter: no error if the topic does not exist.
    #[arg(long)]
    pub if_exists: bool,
    /// --list/--describe: leave out internal topics.
    #[arg(long)]
    pub exclude_internal: bool,
    /// Deadline for connecting and each request, in ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

pub async fn run(args: TopicsArgs) -> Result<(), ToolError> {
    let actions = [
        args.list,
        args.create,
        args.describe,
        args.delete,
        args.alter,
    ];
    if actions.iter().filter(|&&a| a).count() != 1 {
        return Err(ToolError::Usage(
            "exactly one of --list, --create, --describe, --delete, --alter is required".into(),
        ));
    }
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut client = connect(&args.bootstrap_server, "kafka-topics", timeout).await?;
    let need_topic = || {
        args.topic
            .clone()
            .ok_or_else(|| ToolError::Usage("--topic is required".into()))
    };
    if args.list {
        let meta = deadline(timeout, "listing topics", client.metadata(&[])).await?;
        for name in topic_names(&meta, args.exclude_internal) {
            crate::outln!("{name}");
        }
        Ok(())
    } else if args.create {
        let topic = need_topic()?;
        create(&mut client, &args, &topic, timeout).await
    } else if args.describe {
        describe(&mut client, &args, timeout).await
    } else if args.delete {
        let filter = TopicFilter::new(&need_topic()?, "--topic")?;
        for topic in matching(&mut client, &args, &filter, timeout).await? {
            delete(&mut client, &topic, timeout).await?;
        }
        Ok(())
    } else {
        let filter = TopicFilter::new(&need_topic()?, "--topic")?;
        for topic in matching(&mut client, &args, &filter, timeout).await? {
            alter(&mut client, &args, &topic, timeout).await?;
        }
        Ok(())
    }
}

/// The existing topics `filter` matches (internal ones only when named
/// exactly); none is Kafka's "does not exist as expected" error unless
/// `--if-exists`.
async fn matching(
    client: &mut Client,
    args: &TopicsArgs,
    filter: &TopicFilter,
    timeout: Duration,
) -> Result<Vec<String>, ToolError> {
    let meta = deadline(timeout, "listing topics", client.metadata(&[])).await?;
    let names: Vec<String> = meta
        .topics
        .iter()
        .filter(|t| t.error_code == 0)
        .filter_map(|t| {
            let name = t.name.as_ref()?.0.as_str();
            let wanted = if t.is_internal {
                filter.pattern() == name
            } else {
                filter.matches(name)
            };
            wanted.then(|| name.to_string())
        })
        .collect();
    if names.is_empty() && !args.if_exists {
        return Err(ToolError::Failed(format!(
            "Topic '{}' does not exist as expected",
            filter.pattern()
        )));
    }
    let mut names = names;
    names.sort();
    Ok(names)
}

fn topic_names(meta: &MetadataResponse, exclude_internal: bool) -> Vec<String> {
    let mut names: Vec<String> = meta
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !(exclude_internal && t.is_internal))
        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
        .collect();
    names.sort();
    names
}

async fn create(
    client: &mut Client,
    args: &TopicsArgs,
    topic: &str,
    timeout: Duration,
) -> Result<(), ToolError> {
    let configs = parse_props(&args.configs, "--config")?;
    let conn = client.any();
    let version = conn.version_for::<CreateTopicsRequest>(0)?;
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(timeout.as_millis().min(i32::MAX as u128) as i32)
        .with_topics(vec![CreatableTopic::default()
            .with_name(topic_name(topic))
            .with_num_partitions(args.partitions.unwrap_or(-1))
            .with_replication_factor(args.replication_factor.unwrap_or(-1))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(str_bytes(k))
                            .with_value(Some(str_bytes(v)))
                    })
                    .collect(),
            )]);
    let resp = deadline(timeout, "creating the topic", conn.send(req, version)).await?;
    for t in resp.topics {
        if t.error_code == ResponseError::TopicAlreadyExists.code() {
            if args.if_not_exists {
                return Ok(());
            }
            return Err(ToolError::Failed(format!(
                "Topic '{topic}' already exists."
            )));
        }
        if t.error_code != 0 {
            return Err(ToolError::broker(
                "CreateTopics",
                t.error_code,
                t.error_message.as_ref(),
            ));
        }
    }
    crate::outln!("Created topic {topic}.");
    Ok(())
}

async fn describe(
    client: &mut Client,
    args: &TopicsArgs,
    timeout: Duration,
) -> Result<(), ToolError> {
    let filter = match &args.topic {
        Some(t) => Some(TopicFilter::new(t, "--topic")?),
        None => None,
    };
    // A plain name asks for that topic alone; a pattern lists them all.
    let wanted: Vec<&str> = filter
        .as_ref()
        .and_then(TopicFilter::literal)
        .into_iter()
        .collect();
    let meta = deadline(timeout, "describing topics", client.metadata(&wanted)).await?;
    let mut names = topic_names(&meta, args.exclude_internal);
    if let Some(f) = &filter {
        names.retain(|n| f.matches(n));
        if names.is_empty() && !args.if_exists {
            return Err(ToolError::UnknownTopic(f.pattern().to_string()));
        }
    }
    let configs = describe_configs(client, &names, timeout).await?;
    for name in &names {
        let Some(t) = meta
            .topics
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == name))
        else {
            continue;
        };
        let mut partitions: Vec<_> = t.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_index);
        let rf = partitions.first().map_or(0, |p| p.replica_nodes.len());
        let cfg = configs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.join(","))
            .unwrap_or_default();
        let id = if t.topic_id.is_nil() {
            String::new()
        } else {
            format!("\tTopicId: {}", crate::util::uuid_to_base64(t.topic_id))
        };
        crate::outln!(
            "Topic: {name}{id}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {cfg}",
            partitions.len()
        );
        for p in partitions {
            let ids = |v: &[kafka_protocol::messages::BrokerId]| {
                v.iter()
                    .map(|b| b.0.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let leader = if p.leader_id.0 < 0 {
                "none".to_string()
            } else {
                p.leader_id.0.to_string()
            };
            crate::outln!(
                "\tTopic: {name}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}",
                p.partition_index,
                ids(&p.replica_nodes),
                ids(&p.isr_nodes)
            );
        }
    }
    Ok(())
}

/// Each topic's non-default configs as `k=v` (Kafka's `!isDefault` filter).
async fn describe_configs(
    client: &mut Client,
    names: &[String],
    timeout: Duration,
) -> Result<Vec<(String, Vec<String>)>, ToolError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let conn = client.any();
    let version = conn.version_for::<DescribeConfigsRequest>(1)?;
    let req = DescribeConfigsRequest::default().with_resources(
        names
            .iter()
            .map(|n| {
                DescribeConfigsResource::default()
                    .with_resource_type(RESOURCE_TOPIC)
                    .with_resource_name(str_bytes(n))
                    .with_configuration_keys(None)
            })
            .collect(),
    );
    let resp = deadline(timeout, "describing topic configs", conn.send(req, version)).await?;
    let mut out = Vec::new();
    for r in resp.results {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "DescribeConfigs",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
        let mut entries: Vec<String> = r
            .configs
            .iter()
            .filter(|c| c.config_source != SOURCE_DEFAULT)
            .map(|c| {
                let v = if c.is_sensitive {
                    "null"
                } else {
                    c.value.as_ref().map_or("null", |v| v.as_str())
                };
                format!("{}={v}", c.name.as_str())
            })
            .collect();
        entries.sort();
        out.push((r.resource_name.to_string(), entries));
    }
    Ok(out)
}

async fn delete(client: &mut Client, topic: &str, timeout: Duration) -> Result<(), ToolError> {
    let conn = client.any();
    let version = conn.version_for::<DeleteTopicsRequest>(0)?;
    let mut req = DeleteTopicsRequest::default()
        .with_timeout_ms(timeout.as_millis().min(i32::MAX as u128) as i32);
    if version >= 6 {
        req.topics = vec![DeleteTopicState::default().with_name(Some(topic_name(topic)))];
    } else {
        req.topic_names = vec![topic_name(topic)];
    }
    let resp = deadline(timeout, "deleting the topic", conn.send(req, version)).await?;
    for r in resp.responses {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "DeleteTopics",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

async fn alter(
    client: &mut Client,
    args: &TopicsArgs,
    topic: &str,
    timeout: Duration,
) -> Result<(), ToolError> {
    let Some(count) = args.partitions else {
        return Err(ToolError::Usage("--alter needs --partitions".into()));
    };
    let conn = client.any();
    let version = conn.version_for::<CreatePartitionsRequest>(0)?;
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(timeout.as_millis().min(i32::MAX as u128) as i32)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(topic_name(topic))
            .with_count(count)
            .with_assignments(None)]);
    let resp = deadline(timeout, "adding partitions", conn.send(req, version)).await?;
    for r in resp.results {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "CreatePartitions",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

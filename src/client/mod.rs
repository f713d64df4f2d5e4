//! A small async Kafka client on tokio and the `kafka-protocol` crate, for
//! strom's own tools (`strom perf`, console tools): connect to a bootstrap
//! server, negotiate API versions per connection (the highest both sides
//! support), Metadata, CreateTopics, Produce (record batch v2, built here),
//! Fetch, ListOffsets, and any other request through [`Connection::send`].
//!
//! It speaks only standard Kafka APIs, so it works against any Kafka broker.
//! Several requests may be in flight on one connection
//! ([`Connection::start`] returns a handle to await later).

mod connection;
pub mod records;
pub mod security;

use std::collections::HashMap;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
    MetadataResponse, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use uuid::Uuid;

pub use connection::{Connection, PendingResponse};

/// What can go wrong talking to a broker.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, #[source] std::io::Error),
    #[error("connection closed")]
    Disconnected,
    #[error("cannot encode request: {0}")]
    Encode(String),
    #[error("cannot decode response: {0}")]
    Decode(String),
    #[error("response for correlation id {got} where {expected} was expected")]
    CorrelationMismatch { expected: i32, got: i32 },
    #[error("the broker supports no usable version of API key {api_key}")]
    UnsupportedApi { api_key: i16 },
    #[error("{api} failed with error code {code} ({}){message}", error_name(*code))]
    Broker {
        api: &'static str,
        code: i16,
        message: String,
    },
    #[error("topic {0} not found")]
    UnknownTopic(String),
    #[error("no reachable bootstrap server in {0:?}")]
    NoBootstrap(String),
    /// A bootstrap address without a usable port (`localhost`).
    #[error("{problem} in {addr}")]
    BadAddress {
        /// The address as given.
        addr: String,
        /// `missing port` or `invalid port`.
        problem: &'static str,
    },
    /// The server answered in another protocol (an HTTP port given as a
    /// Kafka listener).
    #[error("{addr} answers {protocol}, not Kafka")]
    NotKafka {
        /// The address connected to.
        addr: String,
        /// The protocol its answer is in.
        protocol: &'static str,
    },
    #[error("partition {topic}-{partition} has no leader")]
    NoLeader { topic: String, partition: i32 },
    #[error("{0}")]
    Security(String),
    #[error("TLS handshake with {0} failed: {1}")]
    Tls(String, #[source] std::io::Error),
    #[error("SASL authentication with {0} failed: {1}")]
    Authentication(String, String),
}

fn error_name(code: i16) -> String {
    ResponseError::try_from_code(code)
        .map(|e| format!("{e:?}"))
        .unwrap_or_else(|| "unknown".into())
}

/// The `host:port` entries of a comma-separated bootstrap list, each with a
/// port (`[v6]:port` keeps its brackets); the first without one is
/// [`ClientError::BadAddress`].
pub fn bootstrap_addrs(bootstrap: &str) -> Result<Vec<&str>, ClientError> {
    bootstrap
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|addr| {
            let bad = |problem| ClientError::BadAddress {
                addr: addr.to_string(),
                problem,
            };
            let port = match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && !host.ends_with(':') => port,
                _ => return Err(bad("missing port")),
            };
            if addr.starts_with('[') && !addr.contains("]:") {
                return Err(bad("missing port"));
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => Ok(addr),
                _ if port.is_empty() => Err(bad("missing port")),
                _ => Err(bad("invalid port")),
            }
        })
        .collect()
}

/// A topic as Metadata describes it.
#[derive(Debug, Clone)]
pub struct TopicInfo {
    pub name: String,
    pub id: Uuid,
    /// Leader broker id per partition index (-1: none).
    pub leaders: Vec<i32>,
}

/// A client bootstrapped from one broker: its connection, the cluster's
/// brokers, and connections to them opened on demand.
pub struct Client {
    client_id: String,
    max_in_flight: usize,
    bootstrap: Connection,
    brokers: HashMap<i32, String>,
    connections: HashMap<i32, Connection>,
}

impl Client {
    /// Connects to the first reachable of the comma-separated `bootstrap`
    /// servers and reads the cluster's brokers.
    pub async fn connect(
        bootstrap: &str,
        client_id: &str,
        max_in_flight: usize,
    ) -> Result<Self, ClientError> {
        let mut last = None;
        for addr in bootstrap_addrs(bootstrap)? {
            match Connection::connect(addr, client_id, max_in_flight).await {
                Ok(conn) => {
                    let mut client = Client {
                        client_id: client_id.to_string(),
                        max_in_flight,
                        bootstrap: conn,
                        brokers: HashMap::new(),
                        connections: HashMap::new(),
                    };
                    client.metadata(&[]).await?;
                    return Ok(client);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::NoBootstrap(bootstrap.to_string())))
    }

    /// The bootstrap connection, for requests any broker answers.
    pub fn any(&mut self) -> &mut Connection {
        &mut self.bootstrap
    }

    /// The ids of the cluster's brokers, as the last Metadata listed them, sorted.
    pub fn broker_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.brokers.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The `host:port` of broker `node_id`, as Metadata advertised it.
    pub fn broker_addr(&self, node_id: i32) -> Option<&str> {
        self.brokers.get(&node_id).map(String::as_str)
    }

    /// A new connection of its own to broker `node_id` (for a tool that
    /// wants one connection per task).
    pub async fn open(&self, node_id: i32) -> Result<Connection, ClientError> {
        let addr = self.broker_addr(node_id).ok_or(ClientError::NoLeader {
            topic: String::new(),
            partition: -1,
        })?;
        Connection::connect(addr, &self.client_id, self.max_in_flight).await
    }

    /// The shared connection to broker `node_id`, opened on first use.
    pub async fn broker(&mut self, node_id: i32) -> Result<&mut Connection, ClientError> {
        if !self.connections.contains_key(&node_id) {
            let conn = self.open(node_id).await?;
            self.connections.insert(node_id, conn);
        }
        self.connections
            .get_mut(&node_id)
            .ok_or(ClientError::Disconnected)
    }

    /// Metadata for `topics` (all topics when empty); refreshes the broker list.
    pub async fn metadata(&mut self, topics: &[&str]) -> Result<MetadataResponse, ClientError> {
        let conn = &mut self.bootstrap;
        let version = conn.version_for::<MetadataRequest>(1)?;
        let req = MetadataRequest::default().with_topics(if topics.is_empty() {
            None
        } else {
            Some(
                topics
                    .iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect(),
            )
        });
        let resp = conn.send(req, version).await?;
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        Ok(resp)
    }

    /// One topic's id and partition leaders; `None` if it does not exist.
    pub async fn topic(&mut self, name: &str) -> Result<Option<TopicInfo>, ClientError> {
        let resp = self.metadata(&[name]).await?;
        let Some(t) = resp
            .topics
            .iter()
            .find(|t| t.name.as_ref().is_some_and(|n| n.0.as_str() == name))
        else {
            return Ok(None);
        };
        if t.error_code == ResponseError::UnknownTopicOrPartition.code() {
            return Ok(None);
        }
        if t.error_code != 0 {
            return Err(ClientError::Broker {
                api: "Metadata",
                code: t.error_code,
                message: format!(" for topic {name}"),
            });
        }
        let n = t
            .partitions
            .iter()
            .map(|p| p.partition_index + 1)
            .max()
            .unwrap_or(0);
        let mut leaders = vec![-1; usize::try_from(n).unwrap_or(0)];
        for p in &t.partitions {
            if let Some(slot) = usize::try_from(p.partition_index)
                .ok()
                .and_then(|i| leaders.get_mut(i))
            {
                *slot = p.leader_id.0;
            }
        }
        Ok(Some(TopicInfo {
            name: name.to_string(),
            id: t.topic_id,
            leaders,
        }))
    }

    /// Creates `name` with `partitions` partitions and `replication_factor`
    /// replicas (-1: the broker's default); an existing topic is not an error.
    pub async fn create_topic(
        &mut self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
    ) -> Result<(), ClientError> {
        let conn = &mut self.bootstrap;
        let version = conn.version_for::<CreateTopicsRequest>(0)?;
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic_name(name))
                .with_num_partitions(partitions)
                .with_replication_factor(replication_factor)]);
        let resp = conn.send(req, version).await?;
        for t in resp.topics {
            if t.error_code != 0 && t.error_code != ResponseError::TopicAlreadyExists.code() {
                return Err(ClientError::Broker {
                    api: "CreateTopics",
                    code: t.error_code,
                    message: t
                        .error_message
                        .map(|m| format!(": {}", m.as_str()))
                        .unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// The offset per partition of `topic` for `timestamp` (-2 earliest,
    /// -1 latest), asking each partition's leader.
    pub async fn list_offsets(
        &mut self,
        topic: &TopicInfo,
        timestamp: i64,
    ) -> Result<Vec<i64>, ClientError> {
        let mut out = vec![-1; topic.leaders.len()];
        let mut by_leader: HashMap<i32, Vec<i32>> = HashMap::new();
        for (p, &leader) in topic.leaders.iter().enumerate() {
            if leader < 0 {
                return Err(ClientError::NoLeader {
                    topic: topic.name.clone(),
                    partition: p as i32,
                });
            }
            by_leader.entry(leader).or_default().push(p as i32);
        }
        for (leader, partitions) in by_leader {
            let conn = self.broker(leader).await?;
            let version = conn.version_for::<ListOffsetsRequest>(1)?;
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(topic_name(&topic.name))
                    .with_partitions(
                        partitions
                            .iter()
                            .map(|&p| {
                                ListOffsetsPartition::default()
                                    .with_partition_index(p)
                                    .with_current_leader_epoch(-1)
                                    .with_timestamp(timestamp)
                            })
                            .collect(),
                    )]);
            let resp = conn.send(req, version).await?;
            for t in resp.topics {
                for p in t.partitions {
                    if p.error_code != 0 {
                        return Err(ClientError::Broker {
                            api: "ListOffsets",
                            code: p.error_code,
                            message: format!(" for {}-{}", topic.name, p.partition_index),
                        });
                    }
                    if let Some(slot) = usize::try_from(p.partition_index)
                        .ok()
                        .and_then(|i| out.get_mut(i))
                    {
                        *slot = p.offset;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A topic name for a request.
pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// The lowest Produce version this client speaks (record batch v2).
pub const PRODUCE_MIN_VERSION: i16 = 3;
/// The lowest Fetch version this client speaks (record batch v2).
pub const FETCH_MIN_VERSION: i16 = 4;

/// Produce and Fetch from version 13 on name topics by id (KIP-516).
pub const TOPIC_ID_VERSION: i16 = 13;

/// The Produce version for `conn`.
pub fn produce_version(conn: &Connection) -> Result<i16, ClientError> {
    conn.version_for::<ProduceRequest>(PRODUCE_MIN_VERSION)
}

/// The Fetch version for `conn`.
pub fn fetch_version(conn: &Connection) -> Result<i16, ClientError> {
    conn.version_for::<FetchRequest>(FETCH_MIN_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_addresses_need_a_port() {
        assert_eq!(
            bootstrap_addrs("localhost:9092, [::1]:9093,").unwrap(),
            ["localhost:9092", "[::1]:9093"]
        );
        for (list, addr, problem) in [
            ("localhost", "localhost", "missing port"),
            ("a:9092,kafka", "kafka", "missing port"),
            ("kafka:", "kafka:", "missing port"),
            ("[::1]", "[::1]", "missing port"),
            ("::1", "::1", "missing port"),
            ("kafka:http", "kafka:http", "invalid port"),
            ("kafka:0", "kafka:0", "invalid port"),
        ] {
            let err = bootstrap_addrs(list).unwrap_err();
            assert_eq!(err.to_string(), format!("{problem} in {addr}"), "{list}");
        }
    }
}

//! DescribeLogDirs (v0–v4): per configured log dir, the partitions it holds
//! with their size on disk (bytes of their segments' `.log` files), offset
//! lag 0 and `is_future` false (no replica moves between dirs), and from v4
//! the volume's total and usable bytes (statvfs), as Kafka's
//! `ReplicaManager.describeLogDirs` answers.
//!
//! As in Kafka, every topic with a partition in the dir is listed, with only
//! the requested partitions (all when `topics` is null). v0 is v1 on the
//! wire (v1 only changed when a throttled response is sent); kafka-protocol
//! codes v1+, so v0 is served as v1 by [`Api::serve_legacy`].

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{legacy, Broker, ProtocolError, Reply, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    // DESCRIBE on the cluster; else no log dir, CLUSTER_AUTHORIZATION_FAILED (v3+).
    if !broker.authorize(ctx, Check::DescribeLogDirs, CLUSTER_NAME) {
        return DescribeLogDirsResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let wanted: Option<HashSet<(String, i32)>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.topic.0.to_string();
                t.partitions.into_iter().map(move |p| (name.clone(), p))
            })
            .collect()
    });
    let replica_manager = broker.replica_manager.clone();
    let work = move || {
        let partitions = replica_manager.all_partitions();
        let log_manager = replica_manager.log_manager();
        let mut results = Vec::with_capacity(log_manager.log_dirs().len());
        for dir in log_manager.log_dirs() {
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            let result = DescribeLogDirsResult::default()
                .with_log_dir(StrBytes::from_string(absolute.display().to_string()))
                .with_total_bytes(-1)
                .with_usable_bytes(-1);
            let (total, usable) = match log_manager.volume_bytes(dir) {
                Ok(space) => space,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot stat the log dir's volume");
                    results.push(result.with_error_code(ResponseError::KafkaStorageError.code()));
                    continue;
                }
            };
            let mut topics: BTreeMap<&str, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
            for (topic, index, partition) in &partitions {
                let (in_dir, size) = partition
                    .with_log(|log| (log.dir().parent() == Some(dir.as_path()), log.size_bytes()));
                if !in_dir {
                    continue;
                }
                let listed = topics.entry(topic.as_str()).or_default();
                if wanted
                    .as_ref()
                    .is_none_or(|w| w.contains(&(topic.clone(), *index)))
                {
                    listed.push(
                        DescribeLogDirsPartition::default()
                            .with_partition_index(*index)
                            .with_partition_size(i64::try_from(size).unwrap_or(i64::MAX))
                            .with_offset_lag(0)
                            .with_is_future_key(false),
                    );
                }
            }
            let topics = topics
                .into_iter()
                .map(|(name, partitions)| {
                    DescribeLogDirsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_string())))
                        .with_partitions(partitions)
                })
                .collect();
            results.push(
                result
                    .with_topics(topics)
                    .with_total_bytes(total)
                    .with_usable_bytes(usable),
            );
        }
        results
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(results) => DescribeLogDirsResponse::default().with_results(results),
        Err(e) => {
            tracing::warn!(error = %e, "DescribeLogDirs task failed");
            DescribeLogDirsResponse::default()
                .with_error_code(ResponseError::UnknownServerError.code())
        }
    }
}

/// DescribeLogDirs (API 35).
pub(super) struct DescribeLogDirs;

impl Api for DescribeLogDirs {
    const KEY: ApiKey = ApiKey::DescribeLogDirs;
    type Request = DescribeLogDirsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeLogDirsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }

    /// v0: v1 on the wire, request and response.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: Bytes,
    ) -> Result<Reply, ProtocolError> {
        let version = call.version;
        let request = legacy::decode_as(Self::KEY, version, 1, body)?;
        let response = handle(broker, call.ctx, version, request).await;
        legacy::encode_as(Self::KEY, call.correlation_id, version, 1, 0, &response)
            .map(|b| Reply::Now(Some(b)))
    }
}

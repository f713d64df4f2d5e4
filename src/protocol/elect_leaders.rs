//! ElectLeaders (v0–v2): Kafka's answers on a single broker, which leads
//! every partition as its only (hence preferred) replica. A preferred
//! election, or an unclean one of a partition whose leader is alive, is not
//! needed: ELECTION_NOT_NEEDED per partition; a partition that does not
//! exist is UNKNOWN_TOPIC_OR_PARTITION. As Kafka's `handleElectLeaders`, a
//! request for all partitions (null) leaves out those that needed no
//! election, so it answers an empty list. v0 carries no election type
//! (preferred) and no top-level error code.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};

const PREFERRED: i8 = 0;
const UNCLEAN: i8 = 1;

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let allowed = broker.authorize(ctx, Check::ElectLeaders, CLUSTER_NAME);
    let election_type = if version == 0 {
        PREFERRED
    } else {
        request.election_type
    };
    if allowed && election_type != PREFERRED && election_type != UNCLEAN {
        return ElectLeadersResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code());
    }
    let Some(topics) = request.topic_partitions else {
        return ElectLeadersResponse::default();
    };
    let results = topics
        .into_iter()
        .map(|topic| {
            let found = broker.replica_manager.topic(topic.topic.0.as_str());
            let partition_result = topic
                .partitions
                .iter()
                .map(|&p| {
                    let (error, message) = match found.as_ref().and_then(|t| t.partition(p)) {
                        _ if !allowed => (
                            ResponseError::ClusterAuthorizationFailed,
                            "Cluster authorization failed.",
                        ),
                        Some(_) => (
                            ResponseError::ElectionNotNeeded,
                            "Leader election not needed for topic partition.",
                        ),
                        None => (
                            ResponseError::UnknownTopicOrPartition,
                            "The partition does not exist.",
                        ),
                    };
                    PartitionResult::default()
                        .with_partition_id(p)
                        .with_error_code(error.code())
                        .with_error_message(Some(StrBytes::from_static_str(message)))
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(topic.topic)
                .with_partition_result(partition_result)
        })
        .collect();
    let response = ElectLeadersResponse::default().with_replica_election_results(results);
    if allowed {
        response
    } else {
        response.with_error_code(ResponseError::ClusterAuthorizationFailed.code())
    }
}

/// ElectLeaders (API 43).
pub(super) struct ElectLeaders;

impl Api for ElectLeaders {
    const KEY: ApiKey = ApiKey::ElectLeaders;
    type Request = ElectLeadersRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: ElectLeadersRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

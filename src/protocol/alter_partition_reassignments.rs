//! AlterPartitionReassignments (v0): Kafka's controller checks on a single
//! broker (`KafkaController.processApiPartitionReassignment`):
//! - a target replica list that is empty, repeats an id or has a negative one, or
//!   names a broker that is not alive (any but this one) is
//!   INVALID_REPLICA_ASSIGNMENT (39);
//! - a null list (cancel) with no reassignment in progress — there never is
//!   one here — is NO_REASSIGNMENT_IN_PROGRESS (85);
//! - a valid list for a partition that does not exist is
//!   UNKNOWN_TOPIC_OR_PARTITION;
//! - `[this broker]` for an existing partition is its current assignment:
//!   the reassignment completes at once (no error).

use std::collections::HashSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, BrokerId,
};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let allowed = broker.authorize(ctx, Check::AlterPartitionReassignments, CLUSTER_NAME);
    let live = broker.config.broker_id;
    let responses = request
        .topics
        .into_iter()
        .map(|topic| {
            let found = broker.replica_manager.topic(topic.name.0.as_str());
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    let exists = found
                        .as_ref()
                        .is_some_and(|t| t.partition(p.partition_index).is_some());
                    let (error, message) = if allowed {
                        check(p.replicas.as_deref(), live, exists)
                    } else {
                        (Some(ResponseError::ClusterAuthorizationFailed), None)
                    };
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(error.map_or(0, |e| e.code()))
                        .with_error_message(message.map(StrBytes::from_string))
                })
                .collect();
            ReassignableTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    let response = AlterPartitionReassignmentsResponse::default().with_responses(responses);
    if allowed {
        response
    } else {
        response.with_error_code(ResponseError::ClusterAuthorizationFailed.code())
    }
}

/// The error (and message) for one partition's target `replicas`.
fn check(
    replicas: Option<&[BrokerId]>,
    live: i32,
    exists: bool,
) -> (Option<ResponseError>, Option<String>) {
    let Some(replicas) = replicas else {
        return (
            Some(ResponseError::NoReassignmentInProgress),
            Some("No partition reassignment is in progress.".into()),
        );
    };
    let ids: Vec<i32> = replicas.iter().map(|b| b.0).collect();
    let invalid = |why: String| (Some(ResponseError::InvalidReplicaAssignment), Some(why));
    if ids.is_empty() {
        return invalid("Empty replica list specified in partition reassignment.".into());
    }
    if ids.iter().collect::<HashSet<_>>().len() != ids.len() {
        return invalid(format!(
            "Duplicate replica ids in partition reassignment replica list: {}",
            scala_list(&ids)
        ));
    }
    if ids.iter().any(|&id| id < 0) {
        return invalid(format!(
            "Invalid broker id in replica list: {}",
            scala_list(&ids)
        ));
    }
    let adding: Vec<i32> = ids.iter().copied().filter(|&id| id != live).collect();
    if !adding.is_empty() {
        return invalid(format!(
            "Replica assignment has brokers that are not alive. Replica list: {}, live broker list: Set({live})",
            scala_list(&adding)
        ));
    }
    if !exists {
        return (
            Some(ResponseError::UnknownTopicOrPartition),
            Some("The partition does not exist.".into()),
        );
    }
    (None, None)
}

/// A Scala `Seq`'s `toString`, as Kafka's messages print replica lists.
fn scala_list(ids: &[i32]) -> String {
    let items: Vec<String> = ids.iter().map(i32::to_string).collect();
    format!("List({})", items.join(", "))
}

/// AlterPartitionReassignments (API 45).
pub(super) struct AlterPartitionReassignments;

impl Api for AlterPartitionReassignments {
    const KEY: ApiKey = ApiKey::AlterPartitionReassignments;
    type Request = AlterPartitionReassignmentsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: AlterPartitionReassignmentsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[i32]) -> Vec<BrokerId> {
        v.iter().map(|&i| BrokerId(i)).collect()
    }

    #[test]
    fn kafkas_checks_in_kafkas_order() {
        let code = |r: Option<&[BrokerId]>, exists| check(r, 1, exists).0.map(|e| e.code());
        assert_eq!(code(None, true), Some(85));
        assert_eq!(code(None, false), Some(85));
        assert_eq!(code(Some(&ids(&[])), true), Some(39));
        assert_eq!(code(Some(&ids(&[1, 1])), true), Some(39));
        assert_eq!(code(Some(&ids(&[-1])), true), Some(39));
        assert_eq!(code(Some(&ids(&[1, 2])), true), Some(39));
        assert_eq!(code(Some(&ids(&[2])), false), Some(39));
        assert_eq!(code(Some(&ids(&[1])), false), Some(3));
        assert_eq!(code(Some(&ids(&[1])), true), None);
    }
}

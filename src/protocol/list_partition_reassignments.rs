//! ListPartitionReassignments (v0): the reassignments in progress. A single
//! broker never has one (AlterPartitionReassignments completes at once), so
//! the answer, for all partitions or the ones named, is the empty list with
//! no error, as Kafka's controller answers when none is ongoing.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    _request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    if !broker.authorize(ctx, Check::ListPartitionReassignments, CLUSTER_NAME) {
        return ListPartitionReassignmentsResponse::default().with_error_code(
            kafka_protocol::error::ResponseError::ClusterAuthorizationFailed.code(),
        );
    }
    ListPartitionReassignmentsResponse::default()
}

/// ListPartitionReassignments (API 46).
pub(super) struct ListPartitionReassignments;

impl Api for ListPartitionReassignments {
    const KEY: ApiKey = ApiKey::ListPartitionReassignments;
    type Request = ListPartitionReassignmentsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: ListPartitionReassignmentsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

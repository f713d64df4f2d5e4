//! ListPartitionReassignments (v0): the reassignments in progress. A single
//! broker never has one (AlterPartitionReassignments completes at once), so
//! the answer, for all partitions or the ones named, is the empty list with
//! no error, as Kafka's controller answers when none is ongoing.

use kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use super::{Broker, RequestContext};

pub(super) async fn handle(
    _broker: &Broker,
    _ctx: &RequestContext,
    _version: i16,
    _request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default()
}

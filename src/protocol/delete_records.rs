//! DeleteRecords: moves each partition's log start offset (the low watermark)
//! up to the requested offset; -1 means the high watermark. An offset beyond
//! the high watermark is OFFSET_OUT_OF_RANGE. Whole segments below the new
//! start leave the disk at the next retention check, as in Kafka.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};

pub(super) async fn handle(
    broker: &Broker,
    _ctx: &RequestContext,
    _version: i16,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    delete_records(broker, request).await
}

/// Every partition's DeleteRecords, as the Kafka API serves it.
pub(super) async fn delete_records(
    broker: &Broker,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.as_str().to_string();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let result = DeleteRecordsPartitionResult::default()
                .with_partition_index(p.partition_index)
                .with_low_watermark(-1);
            let result = if p.offset < -1 {
                result.with_error_code(ResponseError::OffsetOutOfRange.code())
            } else {
                match broker
                    .replica_manager
                    .delete_records(&name, p.partition_index, p.offset)
                    .await
                {
                    Ok(low) => result.with_low_watermark(low),
                    Err(e) => {
                        tracing::debug!(topic = %name, partition = p.partition_index, error = %e, "DeleteRecords failed");
                        result.with_error_code(e.kafka_error_code())
                    }
                }
            };
            partitions.push(result);
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

/// DeleteRecords (API 21).
pub(super) struct DeleteRecords;

impl Api for DeleteRecords {
    const KEY: ApiKey = ApiKey::DeleteRecords;
    type Request = DeleteRecordsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DeleteRecordsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

//! InitProducerId (v0–v4): producer ids for idempotent producers.
//!
//! A request without a transactional id gets a new producer id with epoch 0,
//! or — passing its current id and epoch (v3+, KIP-360) — the same id with
//! the next epoch (see `producer_ids::ProducerIdManager::init_producer`).
//! Transactions are not implemented: a transactional id is answered
//! COORDINATOR_NOT_AVAILABLE, what Kafka answers while no transaction
//! coordinator is available (clients retry until their timeout), and an
//! empty one INVALID_REQUEST, as Kafka does.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let failed = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id((-1).into())
            .with_producer_epoch(-1)
    };
    // WRITE on the transactional id; else IDEMPOTENT_WRITE on the cluster
    // or WRITE on any topic.
    match request.transactional_id.as_ref().map(|t| t.0.as_str()) {
        Some(id) if !broker.authorize(ctx, Check::InitProducerIdTransactional, id) => {
            return failed(ResponseError::TransactionalIdAuthorizationFailed)
        }
        None if !broker.authorize_filter(ctx, Check::InitProducerIdIdempotent, CLUSTER_NAME)
            && !broker.authorize_any(ctx, Check::InitProducerIdAnyTopic) =>
        {
            return failed(ResponseError::ClusterAuthorizationFailed)
        }
        Some("") => return failed(ResponseError::InvalidRequest),
        Some(id) => {
            tracing::debug!(
                transactional_id = id,
                "InitProducerId for a transactional id: transactions are not supported"
            );
            return failed(ResponseError::CoordinatorNotAvailable);
        }
        None => {}
    }
    let manager = broker.producer_ids.clone();
    let (pid, epoch) = (request.producer_id.0, request.producer_epoch);
    match tokio::task::spawn_blocking(move || manager.init_producer(pid, epoch)).await {
        Ok(Ok((producer_id, producer_epoch))) => {
            tracing::debug!(producer_id, producer_epoch, "InitProducerId");
            InitProducerIdResponse::default()
                .with_producer_id(producer_id.into())
                .with_producer_epoch(producer_epoch)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot allocate a producer id");
            failed(ResponseError::CoordinatorNotAvailable)
        }
        Err(e) => {
            tracing::warn!(error = %e, "producer id task failed");
            failed(ResponseError::CoordinatorNotAvailable)
        }
    }
}

/// InitProducerId (API 22).
pub(super) struct InitProducerId;

impl Api for InitProducerId {
    const KEY: ApiKey = ApiKey::InitProducerId;
    type Request = InitProducerIdRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: InitProducerIdRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

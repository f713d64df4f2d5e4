//! ApiVersions: the versions of every API in [`super::APIS`].

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext, APIS};

fn api_keys() -> Vec<ApiVersion> {
    APIS.iter()
        .map(|a| {
            ApiVersion::default()
                .with_api_key(a.key as i16)
                .with_min_version(a.min)
                .with_max_version(a.max)
        })
        .collect()
}

pub(super) async fn handle(
    _broker: &Broker,
    _ctx: &RequestContext,
    _version: i16,
    _request: ApiVersionsRequest,
) -> ApiVersionsResponse {
    // Tagged fields (features) stay at their defaults so that none is encoded:
    // librdkafka before 2.2 cannot read a v3 response carrying them.
    ApiVersionsResponse::default().with_api_keys(api_keys())
}

/// The v0 answer to an ApiVersions version newer than ours (KIP-511).
pub(super) fn unsupported_version_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_keys())
}

/// ApiVersions (API 18).
pub(super) struct ApiVersions;

impl Api for ApiVersions {
    const KEY: ApiKey = ApiKey::ApiVersions;
    type Request = ApiVersionsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: ApiVersionsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

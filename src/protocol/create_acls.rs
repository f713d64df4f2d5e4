//! CreateAcls (API 30): adds bindings, one result per creation in order.
//! ALTER on the cluster first (else every creation answers
//! CLUSTER_AUTHORIZATION_FAILED); without an authorizer SECURITY_DISABLED;
//! a malformed binding (unknown codes, a non-specific pattern type, an
//! empty name, a cluster not named `kafka-cluster`, a principal not
//! `Type:name`) INVALID_REQUEST, the others are still created.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::{ApiKey, CreateAclsRequest, CreateAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{legacy, Broker, ProtocolError, Reply, RequestContext};
use crate::authorizer::{AclBinding, Check};

fn result(code: i16, message: Option<String>) -> AclCreationResult {
    AclCreationResult::default()
        .with_error_code(code)
        .with_error_message(message.map(StrBytes::from_string))
}

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    r: CreateAclsRequest,
) -> CreateAclsResponse {
    let all = |code: i16, message: &str| {
        CreateAclsResponse::default().with_results(
            r.creations
                .iter()
                .map(|_| result(code, Some(message.to_string())))
                .collect(),
        )
    };
    if let Some((code, message)) =
        broker.acl_api_refusal(ctx, Check::CreateAcls, "No Authorizer is configured.")
    {
        return all(code, message);
    }
    let parsed: Vec<Result<AclBinding, String>> = r
        .creations
        .iter()
        .map(|c| {
            AclBinding::from_wire(
                c.resource_type,
                c.resource_name.as_str(),
                c.resource_pattern_type,
                c.principal.as_str(),
                c.host.as_str(),
                c.operation,
                c.permission_type,
            )
            .map_err(|e| e.to_string())
        })
        .collect();
    let valid: Vec<AclBinding> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let mut created = broker.authorizer().create(&valid).await.into_iter();
    let results = parsed
        .into_iter()
        .map(|p| match p {
            Err(message) => result(ResponseError::InvalidRequest.code(), Some(message)),
            Ok(_) => match created.next() {
                Some(Ok(())) => result(0, None),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "creating an ACL failed");
                    result(e.kafka_error_code(), Some(e.to_string()))
                }
                None => result(ResponseError::UnknownServerError.code(), None),
            },
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

/// CreateAcls (API 30).
pub(super) struct CreateAcls;

impl Api for CreateAcls {
    const KEY: ApiKey = ApiKey::CreateAcls;
    type Request = CreateAclsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: CreateAclsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, request).await.into()
    }

    /// v0: LITERAL creations; the answer is v1's layout.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let request = legacy::create_acls_v0(&body).map_err(|m| m.at(Self::KEY, call.version))?;
        let response = handle(broker, call.ctx, request).await;
        legacy::encode_as(
            Self::KEY,
            call.correlation_id,
            call.version,
            1,
            0,
            &response,
        )
        .map(|b| Reply::Now(Some(b)))
    }
}

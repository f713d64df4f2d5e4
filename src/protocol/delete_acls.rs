//! DeleteAcls (API 31): per filter, the bindings it matched and removed.
//! ALTER on the cluster first (else every filter answers
//! CLUSTER_AUTHORIZATION_FAILED); without an authorizer SECURITY_DISABLED;
//! a malformed filter INVALID_REQUEST.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::{ApiKey, DeleteAclsRequest, DeleteAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{legacy, Broker, ProtocolError, Reply, RequestContext};
use crate::authorizer::{AclBinding, AclBindingFilter, Check};

fn failed(code: i16, message: String) -> DeleteAclsFilterResult {
    DeleteAclsFilterResult::default()
        .with_error_code(code)
        .with_error_message(Some(StrBytes::from_string(message)))
}

fn matching(b: AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.pattern.resource_type.code())
        .with_resource_name(StrBytes::from_string(b.pattern.name))
        .with_pattern_type(b.pattern.pattern_type.code())
        .with_principal(StrBytes::from_string(b.entry.principal))
        .with_host(StrBytes::from_string(b.entry.host))
        .with_operation(b.entry.operation.code())
        .with_permission_type(b.entry.permission.code())
}

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    r: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let all = |code: i16, message: &str| {
        DeleteAclsResponse::default().with_filter_results(
            r.filters
                .iter()
                .map(|_| failed(code, message.to_string()))
                .collect(),
        )
    };
    if let Some((code, message)) =
        broker.acl_api_refusal(ctx, Check::DeleteAcls, "No Authorizer is configured.")
    {
        return all(code, message);
    }
    let parsed: Vec<Result<AclBindingFilter, String>> = r
        .filters
        .iter()
        .map(|f| {
            AclBindingFilter::from_wire(
                f.resource_type_filter,
                f.resource_name_filter.as_deref(),
                f.pattern_type_filter,
                f.principal_filter.as_deref(),
                f.host_filter.as_deref(),
                f.operation,
                f.permission_type,
            )
            .map_err(|e| e.to_string())
        })
        .collect();
    let valid: Vec<AclBindingFilter> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let mut deleted = broker.authorizer().delete(&valid).await.into_iter();
    let results = parsed
        .into_iter()
        .map(|p| match p {
            Err(message) => failed(ResponseError::InvalidRequest.code(), message),
            Ok(_) => match deleted.next() {
                Some(Ok(bindings)) => DeleteAclsFilterResult::default()
                    .with_matching_acls(bindings.into_iter().map(matching).collect()),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "deleting ACLs failed");
                    failed(e.kafka_error_code(), e.to_string())
                }
                None => failed(ResponseError::UnknownServerError.code(), String::new()),
            },
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

/// DeleteAcls (API 31).
pub(super) struct DeleteAcls;

impl Api for DeleteAcls {
    const KEY: ApiKey = ApiKey::DeleteAcls;
    type Request = DeleteAclsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DeleteAclsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, request).await.into()
    }

    /// v0: LITERAL filters; answers without pattern types.
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let request = legacy::delete_acls_v0(&body).map_err(|m| m.at(Self::KEY, call.version))?;
        let response = handle(broker, call.ctx, request).await;
        Ok(Reply::Now(Some(legacy::delete_acls_v0_response(
            call.correlation_id,
            &response,
        ))))
    }
}

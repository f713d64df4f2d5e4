//! DescribeAcls (API 29): the bindings a filter matches, grouped by
//! resource pattern. DESCRIBE on the cluster first (else
//! CLUSTER_AUTHORIZATION_FAILED); without an authorizer SECURITY_DISABLED,
//! as Kafka's `AclApis` answers.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{ApiKey, DescribeAclsRequest, DescribeAclsResponse};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{legacy, Broker, ProtocolError, Reply, RequestContext};
use crate::authorizer::{AclBinding, AclBindingFilter, Check};

fn error(code: i16, message: &str) -> DescribeAclsResponse {
    DescribeAclsResponse::default()
        .with_error_code(code)
        .with_error_message(Some(StrBytes::from_string(message.to_string())))
}

pub(super) fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    r: DescribeAclsRequest,
) -> DescribeAclsResponse {
    if let Some((code, message)) = broker.acl_api_refusal(
        ctx,
        Check::DescribeAcls,
        "No Authorizer is configured on the broker",
    ) {
        return error(code, message);
    }
    let filter = match AclBindingFilter::from_wire(
        r.resource_type_filter,
        r.resource_name_filter.as_deref(),
        r.pattern_type_filter,
        r.principal_filter.as_deref(),
        r.host_filter.as_deref(),
        r.operation,
        r.permission_type,
    ) {
        Ok(f) => f,
        Err(e) => return error(ResponseError::InvalidRequest.code(), &e.to_string()),
    };
    DescribeAclsResponse::default().with_resources(group(broker.authorizer().describe(&filter)))
}

/// Bindings (already ordered by pattern) as one resource per pattern.
fn group(bindings: Vec<AclBinding>) -> Vec<DescribeAclsResource> {
    let mut out: Vec<DescribeAclsResource> = Vec::new();
    let mut last = None;
    for b in bindings {
        let acl = AclDescription::default()
            .with_principal(StrBytes::from_string(b.entry.principal))
            .with_host(StrBytes::from_string(b.entry.host))
            .with_operation(b.entry.operation.code())
            .with_permission_type(b.entry.permission.code());
        match out.last_mut() {
            Some(res) if last.as_ref() == Some(&b.pattern) => res.acls.push(acl),
            _ => {
                out.push(
                    DescribeAclsResource::default()
                        .with_resource_type(b.pattern.resource_type.code())
                        .with_resource_name(StrBytes::from_string(b.pattern.name.clone()))
                        .with_pattern_type(b.pattern.pattern_type.code())
                        .with_acls(vec![acl]),
                );
                last = Some(b.pattern);
            }
        }
    }
    out
}

/// DescribeAcls (API 29).
pub(super) struct DescribeAcls;

impl Api for DescribeAcls {
    const KEY: ApiKey = ApiKey::DescribeAcls;
    type Request = DescribeAclsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 3;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeAclsRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, request).into()
    }

    /// v0: no pattern types (LITERAL filter, and answers).
    async fn serve_legacy(
        broker: &Broker,
        call: &Call<'_>,
        body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let request = legacy::describe_acls_v0(&body).map_err(|m| m.at(Self::KEY, call.version))?;
        let response = handle(broker, call.ctx, request);
        Ok(Reply::Now(Some(legacy::describe_acls_v0_response(
            call.correlation_id,
            &response,
        ))))
    }
}

//! DescribeClientQuotas (v0–v1): the quotas of the user / client-id entities
//! matching the filter, as Kafka's `ZkAdminManager.describeClientQuotas`:
//! a component matches its entity type exactly (match type 0, a name), the
//! default entity (1) or any entity of that type (2); with `strict` the
//! entity has no other types. Only quota keys are answered (a user's SCRAM
//! credentials share its document and are left out); values are doubles.

use std::collections::HashSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};
use crate::quotas::{QuotaEntity, CLIENT_ID, QUOTA_KEYS, USER};

const MATCH_EXACT: i8 = 0;
const MATCH_DEFAULT: i8 = 1;
const MATCH_ANY: i8 = 2;

/// One filter component: `Some(Some(name))` exact, `Some(None)` default, `None` any.
type Component = Option<Option<String>>;

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let failed = |error: ResponseError, message: String| {
        DescribeClientQuotasResponse::default()
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(message)))
            .with_entries(None)
    };
    if !broker.authorize(ctx, Check::DescribeClientQuotas, CLUSTER_NAME) {
        return failed(
            ResponseError::ClusterAuthorizationFailed,
            "Cluster authorization failed.".into(),
        );
    }
    let mut user: Option<Component> = None;
    let mut client: Option<Component> = None;
    let mut seen = HashSet::new();
    for c in &request.components {
        let kind = c.entity_type.as_str();
        if !seen.insert(kind.to_string()) {
            return failed(
                ResponseError::InvalidRequest,
                format!("Duplicate {kind} filter component entity type"),
            );
        }
        let component: Component = match c.match_type {
            MATCH_EXACT => match &c._match {
                Some(name) => Some(Some(name.to_string())),
                None => {
                    return failed(
                        ResponseError::InvalidRequest,
                        format!("Request specified exact match for {kind} without a name"),
                    )
                }
            },
            MATCH_DEFAULT => Some(None),
            MATCH_ANY => None,
            other => {
                return failed(
                    ResponseError::InvalidRequest,
                    format!("Unexpected match type: {other}"),
                )
            }
        };
        match kind {
            USER => user = Some(component),
            CLIENT_ID => client = Some(component),
            "ip" => {
                return failed(
                    ResponseError::InvalidRequest,
                    "IP quotas are not supported by this broker".into(),
                )
            }
            other => {
                return failed(
                    ResponseError::InvalidRequest,
                    format!("Unexpected quota entity type: {other}"),
                )
            }
        }
    }
    let configs = match broker.metadata.entity_configs().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read client quotas");
            return failed(ResponseError::UnknownServerError, e.to_string());
        }
    };
    let strict = request.strict;
    let matches = |filter: &Option<Component>, part: &Option<Option<String>>| match filter {
        Some(Some(want)) => part.as_ref() == Some(want),
        Some(None) => part.is_some(),
        None => part.is_none() || !strict,
    };
    let mut entries = Vec::new();
    for (path, config) in &configs {
        let Some(entity) = QuotaEntity::from_path(path) else {
            continue;
        };
        if !matches(&user, &entity.user) || !matches(&client, &entity.client_id) {
            continue;
        }
        let values: Vec<ValueData> = config
            .iter()
            .filter(|(k, _)| QUOTA_KEYS.iter().any(|(q, _)| q == k))
            .filter_map(|(k, v)| {
                let value = v.trim().parse::<f64>().ok()?;
                Some(
                    ValueData::default()
                        .with_key(StrBytes::from_string(k.clone()))
                        .with_value(value),
                )
            })
            .collect();
        if values.is_empty() {
            continue;
        }
        let mut parts = Vec::new();
        let mut push = |kind: &'static str, part: &Option<Option<String>>| {
            if let Some(name) = part {
                parts.push(
                    EntityData::default()
                        .with_entity_type(StrBytes::from_static_str(kind))
                        .with_entity_name(name.clone().map(StrBytes::from_string)),
                );
            }
        };
        push(USER, &entity.user);
        push(CLIENT_ID, &entity.client_id);
        entries.push(EntryData::default().with_entity(parts).with_values(values));
    }
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

/// DescribeClientQuotas (API 48).
pub(super) struct DescribeClientQuotas;

impl Api for DescribeClientQuotas {
    const KEY: ApiKey = ApiKey::DescribeClientQuotas;
    type Request = DescribeClientQuotasRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeClientQuotasRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

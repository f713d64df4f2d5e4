//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and
//! the broker. Topic changes go to the metadata store first, then to the
//! live logs (no restart needed).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::admin::update_topic;
use super::router::{Answer, Api, Call, Response};
use super::{legacy, ProtocolError, Reply};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};
use crate::config::{BrokerConfig, ConfigEntry};

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

type Refusal = (ResponseError, String);

/// BROKER_LOGGER resources are the cluster's, as brokers are.
const RESOURCE_BROKER_LOGGER: i8 = 8;

/// Kafka's check of one config resource: `topic` on a topic, `cluster` on
/// the cluster for a broker or broker logger.
fn authorized(
    broker: &Broker,
    ctx: &RequestContext,
    resource_type: i8,
    name: &str,
    (topic, cluster): (Check, Check),
) -> Result<(), Refusal> {
    let denied = match resource_type {
        RESOURCE_TOPIC if !broker.authorize(ctx, topic, name) => {
            ResponseError::TopicAuthorizationFailed
        }
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER
            if !broker.authorize(ctx, cluster, CLUSTER_NAME) =>
        {
            ResponseError::ClusterAuthorizationFailed
        }
        _ => return Ok(()),
    };
    Err((denied, "Authorization failed.".to_string()))
}

pub(super) fn describe(
    broker: &Broker,
    ctx: &RequestContext,
    version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .into_iter()
        .map(|resource| {
            let name = resource.resource_name.as_str().to_string();
            let mut result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let checks = (Check::DescribeConfigsTopic, Check::DescribeConfigsBroker);
            let allowed = authorized(broker, ctx, resource.resource_type, &name, checks);
            let entries = match resource.resource_type {
                _ if allowed.is_err() => allowed.map(|()| Vec::new()),
                RESOURCE_TOPIC => match broker.replica_manager.topic(&name) {
                    Some(topic) => Ok(broker
                        .config
                        .describe_topic_configs(&topic.metadata.configs, request.include_synonyms)),
                    None => Err((
                        ResponseError::UnknownTopicOrPartition,
                        format!("Topic {name} does not exist"),
                    )),
                },
                RESOURCE_BROKER => {
                    if name.is_empty() || name == broker.config.broker_id.to_string() {
                        Ok(broker
                            .config
                            .describe_broker_configs(request.include_synonyms))
                    } else {
                        Err((
                            ResponseError::InvalidRequest,
                            format!(
                                "Unexpected broker id, expected {} but received {name}",
                                broker.config.broker_id
                            ),
                        ))
                    }
                }
                other => Err((
                    ResponseError::InvalidRequest,
                    format!("Unsupported resource type {other}"),
                )),
            };
            match entries {
                Ok(entries) => {
                    let keys = resource.configuration_keys.as_ref();
                    result.configs = entries
                        .into_iter()
                        .filter(|e| keys.is_none_or(|k| k.iter().any(|k| k.as_str() == e.name)))
                        .map(|e| to_result(e, version, request.include_documentation))
                        .collect();
                }
                Err((code, message)) => {
                    result.error_code = code.code();
                    result.error_message = Some(StrBytes::from_string(message));
                }
            }
            result
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn to_result(
    entry: ConfigEntry,
    version: i16,
    documentation: bool,
) -> DescribeConfigsResourceResult {
    let mut result = DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(entry.name))
        .with_value(entry.value.map(StrBytes::from_string))
        .with_read_only(entry.read_only)
        .with_config_source(entry.source as i8)
        .with_is_sensitive(entry.sensitive)
        .with_synonyms(
            entry
                .synonyms
                .into_iter()
                .map(|s| {
                    DescribeConfigsSynonym::default()
                        .with_name(StrBytes::from_string(s.name))
                        .with_value(s.value.map(StrBytes::from_string))
                        .with_source(s.source as i8)
                })
                .collect(),
        );
    if version >= 3 {
        result.config_type = entry.config_type as i8;
        if documentation {
            result.documentation = entry.documentation.map(StrBytes::from_string);
        }
    }
    result
}

pub(super) async fn alter(
    broker: &Broker,
    ctx: &RequestContext,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.as_str().to_string();
        let changes: Vec<(String, i8, Option<String>)> = resource
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.as_str().to_string(),
                    OP_SET,
                    c.value.as_ref().map(|v| v.as_str().to_string()),
                )
            })
            .collect();
        let checks = (Check::AlterConfigsTopic, Check::AlterConfigsBroker);
        let outcome = match authorized(broker, ctx, resource.resource_type, &name, checks) {
            Err(denied) => Err(denied),
            Ok(()) => {
                apply(
                    broker,
                    resource.resource_type,
                    &name,
                    changes,
                    true,
                    request.validate_only,
                )
                .await
            }
        };
        let mut response = kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((code, message)) = outcome {
            response.error_code = code.code();
            response.error_message = Some(StrBytes::from_string(message));
        }
        responses.push(response);
    }
    AlterConfigsResponse::default().with_responses(responses)
}

pub(super) async fn incremental_alter(
    broker: &Broker,
    ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.as_str().to_string();
        let changes = resource
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.as_str().to_string(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.as_str().to_string()),
                )
            })
            .collect();
        let checks = (
            Check::IncrementalAlterConfigsTopic,
            Check::IncrementalAlterConfigsBroker,
        );
        let outcome = match authorized(broker, ctx, resource.resource_type, &name, checks) {
            Err(denied) => Err(denied),
            Ok(()) => {
                apply(
                    broker,
                    resource.resource_type,
                    &name,
                    changes,
                    false,
                    request.validate_only,
                )
                .await
            }
        };
        let mut response = kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name);
        if let Err((code, message)) = outcome {
            response.error_code = code.code();
            response.error_message = Some(StrBytes::from_string(message));
        }
        responses.push(response);
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Applies config changes to one resource. `replace_all`: AlterConfigs'
/// semantics (the given set replaces every override).
async fn apply(
    broker: &Broker,
    resource_type: i8,
    name: &str,
    changes: Vec<(String, i8, Option<String>)>,
    replace_all: bool,
    validate_only: bool,
) -> Result<(), Refusal> {
    match resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER => {
            return Err((
                ResponseError::InvalidRequest,
                "dynamic broker configs are not supported yet; set them in the config file".into(),
            ))
        }
        other => {
            return Err((
                ResponseError::InvalidRequest,
                format!("Unsupported resource type {other}"),
            ))
        }
    }
    let topic = broker.replica_manager.topic(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("Topic {name} does not exist"),
        )
    })?;
    let mut configs: BTreeMap<String, String> = if replace_all {
        BTreeMap::new()
    } else {
        topic.metadata.configs.clone()
    };
    for (key, op, value) in changes {
        match (op, value) {
            (OP_DELETE, _) => {
                let known = broker
                    .config
                    .describe_topic_configs(&BTreeMap::new(), false)
                    .iter()
                    .any(|e| e.name == key);
                if !known {
                    return Err((
                        ResponseError::InvalidConfig,
                        format!("Unknown topic config name: {key}"),
                    ));
                }
                configs.remove(&key);
            }
            (OP_SET, Some(v)) => {
                BrokerConfig::validate_topic_config(&key, &v)
                    .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
                configs.insert(key, v);
            }
            (OP_APPEND | OP_SUBTRACT, Some(v)) => {
                let current = configs.get(&key).cloned().or_else(|| {
                    broker
                        .config
                        .describe_topic_configs(&BTreeMap::new(), false)
                        .into_iter()
                        .find(|e| e.name == key)
                        .and_then(|e| e.value)
                });
                let mut items: Vec<String> = current
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if op == OP_APPEND {
                        if !items.iter().any(|i| i == item) {
                            items.push(item.to_string());
                        }
                    } else {
                        items.retain(|i| i != item);
                    }
                }
                let joined = items.join(",");
                BrokerConfig::validate_topic_config(&key, &joined)
                    .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
                configs.insert(key, joined);
            }
            (OP_SET | OP_APPEND | OP_SUBTRACT, None) => {
                return Err((
                    ResponseError::InvalidRequest,
                    format!("Null value not supported for: {key}"),
                ))
            }
            (other, _) => {
                return Err((
                    ResponseError::InvalidRequest,
                    format!("Unknown config operation {other}"),
                ))
            }
        }
    }
    broker
        .config
        .log_config(&configs)
        .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    let mut metadata = topic.metadata.clone();
    metadata.configs = configs;
    update_topic(broker, metadata).await?;
    tracing::info!(topic = name, "altered topic configs");
    Ok(())
}

/// DescribeConfigs (API 32).
pub(super) struct DescribeConfigs;

impl Api for DescribeConfigs {
    const KEY: ApiKey = ApiKey::DescribeConfigs;
    type Request = DescribeConfigsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 4;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: DescribeConfigsRequest,
    ) -> Answer<Response<Self>> {
        describe(broker, call.ctx, call.version, request).into()
    }

    /// v0 is v1 without `include_synonyms`; its answer has `is_default`.
    async fn serve_legacy(
        broker: &Broker,
        _call: &Call<'_>,
        body: bytes::Bytes,
    ) -> Result<Reply, ProtocolError> {
        let call = _call;
        let request = legacy::decode_as(
            Self::KEY,
            call.version,
            1,
            legacy::widened(&[], &body, &[0]),
        )?;
        let response = describe(broker, call.ctx, call.version, request);
        Ok(Reply::Now(Some(legacy::describe_configs_v0_response(
            call.correlation_id,
            &response,
        ))))
    }
}

/// AlterConfigs (API 33).
pub(super) struct AlterConfigs;

impl Api for AlterConfigs {
    const KEY: ApiKey = ApiKey::AlterConfigs;
    type Request = AlterConfigsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: AlterConfigsRequest,
    ) -> Answer<Response<Self>> {
        alter(broker, call.ctx, request).await.into()
    }
}

/// IncrementalAlterConfigs (API 44).
pub(super) struct IncrementalAlterConfigs;

impl Api for IncrementalAlterConfigs {
    const KEY: ApiKey = ApiKey::IncrementalAlterConfigs;
    type Request = IncrementalAlterConfigsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: IncrementalAlterConfigsRequest,
    ) -> Answer<Response<Self>> {
        incremental_alter(broker, call.ctx, request).await.into()
    }
}

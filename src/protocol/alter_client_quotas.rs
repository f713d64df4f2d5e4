//! AlterClientQuotas (v0–v1): sets or removes quota keys of user / client-id
//! entities, as Kafka's `ZkAdminManager.alterClientQuotas`: the entity must
//! be a user, a client id, or both (each a name or the default); keys must be
//! Kafka's quota configs, LONG ones (byte rates) whole numbers; errors are
//! per entry (INVALID_REQUEST). The document of the entity is merged, never
//! replaced (a user's SCRAM credentials share it), and `validate_only`
//! checks without writing. The quotas in force are reloaded afterwards.

use std::collections::{BTreeMap, HashSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_client_quotas_request::EntryData as RequestEntry;
use kafka_protocol::messages::alter_client_quotas_response::{EntityData, EntryData};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::{AlterClientQuotasRequest, AlterClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::authorizer::{Check, CLUSTER_NAME};
use crate::quotas::{QuotaEntity, CLIENT_ID, QUOTA_KEYS, USER};

/// A change to make: entity path, keys to set, keys to remove.
type Change = (String, BTreeMap<String, String>, Vec<String>);

pub(super) async fn handle(
    broker: &Broker,
    ctx: &RequestContext,
    _version: i16,
    request: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let allowed = broker.authorize(ctx, Check::AlterClientQuotas, CLUSTER_NAME);
    let mut entries = Vec::with_capacity(request.entries.len());
    let mut changed = false;
    for entry in &request.entries {
        let entity_data = entry
            .entity
            .iter()
            .map(|e| {
                EntityData::default()
                    .with_entity_type(e.entity_type.clone())
                    .with_entity_name(e.entity_name.clone())
            })
            .collect();
        let result = EntryData::default().with_entity(entity_data);
        let outcome = match validate(entry) {
            _ if !allowed => Err((
                ResponseError::ClusterAuthorizationFailed,
                "Cluster authorization failed.".to_string(),
            )),
            Err(message) => Err((ResponseError::InvalidRequest, message)),
            Ok(_) if request.validate_only => Ok(()),
            Ok((path, set, remove)) => {
                match broker
                    .metadata
                    .alter_entity_config(&path, &set, &remove)
                    .await
                {
                    Ok(()) => {
                        changed = true;
                        tracing::info!(entity = %path, ?set, ?remove, "client quotas altered");
                        Ok(())
                    }
                    Err(e) => Err(super::admin::store_refusal(e)),
                }
            }
        };
        entries.push(match outcome {
            Ok(()) => result,
            Err((error, message)) => result
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(message))),
        });
    }
    if changed {
        broker.reload_entity_configs().await;
    }
    AlterClientQuotasResponse::default().with_entries(entries)
}

/// The entity path and the keys to set and remove, or Kafka's message.
fn validate(entry: &RequestEntry) -> Result<Change, String> {
    let mut entity = QuotaEntity::default();
    let mut seen = HashSet::new();
    for e in &entry.entity {
        let kind = e.entity_type.as_str();
        if !seen.insert(kind) {
            return Err(format!(
                "Duplicate {kind} entity type in client quota entity"
            ));
        }
        let name = e.entity_name.as_ref().map(|n| n.to_string());
        match kind {
            USER => entity.user = Some(name),
            CLIENT_ID => entity.client_id = Some(name),
            "ip" => return Err("IP quotas are not supported by this broker".into()),
            other => return Err(format!("Unhandled client quota entity type: {other}")),
        }
    }
    let path = entity
        .path()
        .ok_or_else(|| "Invalid client quota entity".to_string())?;
    let (mut set, mut remove) = (BTreeMap::new(), Vec::new());
    for op in &entry.ops {
        let key = op.key.as_str();
        let Some(&(_, integral)) = QUOTA_KEYS.iter().find(|(k, _)| *k == key) else {
            return Err(format!("Invalid configuration key {key}"));
        };
        if op.remove {
            remove.push(key.to_string());
            continue;
        }
        let value = if integral {
            const EPSILON: f64 = 1e-6;
            let whole = (op.value + EPSILON).trunc();
            if (whole - op.value).abs() > EPSILON || !whole.is_finite() {
                return Err(format!("Configuration {key} must be a Long value"));
            }
            format!("{}", whole as i64)
        } else {
            format!("{:?}", op.value)
        };
        set.insert(key.to_string(), value);
    }
    Ok((path, set, remove))
}

/// AlterClientQuotas (API 49).
pub(super) struct AlterClientQuotas;

impl Api for AlterClientQuotas {
    const KEY: ApiKey = ApiKey::AlterClientQuotas;
    type Request = AlterClientQuotasRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: AlterClientQuotasRequest,
    ) -> Answer<Response<Self>> {
        handle(broker, call.ctx, call.version, request).await.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::alter_client_quotas_request::{EntityData, OpData};

    fn entry(entity: &[(&str, Option<&str>)], ops: &[(&str, f64, bool)]) -> RequestEntry {
        RequestEntry::default()
            .with_entity(
                entity
                    .iter()
                    .map(|(t, n)| {
                        EntityData::default()
                            .with_entity_type(StrBytes::from_string(t.to_string()))
                            .with_entity_name(n.map(|n| StrBytes::from_string(n.to_string())))
                    })
                    .collect(),
            )
            .with_ops(
                ops.iter()
                    .map(|(k, v, r)| {
                        OpData::default()
                            .with_key(StrBytes::from_string(k.to_string()))
                            .with_value(*v)
                            .with_remove(*r)
                    })
                    .collect(),
            )
    }

    #[test]
    fn kafkas_validation() {
        let (path, set, _) = validate(&entry(
            &[("user", Some("alice")), ("client-id", None)],
            &[
                ("producer_byte_rate", 1024.0, false),
                ("request_percentage", 12.5, false),
            ],
        ))
        .unwrap();
        assert_eq!(path, "users/alice/clients/<default>");
        assert_eq!(set["producer_byte_rate"], "1024");
        assert_eq!(set["request_percentage"], "12.5");
        assert!(validate(&entry(
            &[("client-id", Some("a"))],
            &[("producer_byte_rate", 1.5, false)]
        ))
        .is_err());
        assert!(validate(&entry(
            &[("client-id", Some("a"))],
            &[("retention.ms", 1.0, false)]
        ))
        .is_err());
        assert!(validate(&entry(&[], &[])).is_err());
        assert!(validate(&entry(&[("user", None), ("user", None)], &[])).is_err());
    }
}

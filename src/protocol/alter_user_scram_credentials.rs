//! AlterUserScramCredentials (v0): sets and deletes users' SCRAM
//! credentials where Kafka 3.5 keeps them — the user's entity config
//! (`users/<sanitized user>`, ZooKeeper's `/config/users/<user>` or the
//! standalone store), key `SCRAM-SHA-256`/`SCRAM-SHA-512`, value in
//! Kafka's `salt=…,stored_key=…,server_key=…,iterations=…` form. The client
//! sends the salted password; the stored and server keys are derived here.
//! The user's document is shared with client quotas: it is merged, never
//! replaced. Kafka's checks and errors, per user: an empty name or an
//! iteration count outside 4096..=16384 UNACCEPTABLE_CREDENTIAL, an unknown
//! mechanism UNSUPPORTED_SASL_MECHANISM, a (user, mechanism) altered twice
//! DUPLICATE_RESOURCE, deleting a credential that does not exist
//! RESOURCE_NOT_FOUND.

use std::collections::{BTreeMap, BTreeSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
};
use kafka_protocol::protocol::StrBytes;

use super::router::{Answer, Api, Call, Response};
use super::Broker;
use crate::metadata::EntityConfigs;
use crate::quotas::{desanitize, sanitize};
use crate::security::scram::{ScramCredential, ScramMechanism, MAX_ITERATIONS, MIN_ITERATIONS};

pub struct AlterUserScramCredentials;

/// Every SCRAM credential in the entity configs, by (mechanism, user).
pub(super) fn credentials_of(
    configs: &EntityConfigs,
) -> BTreeMap<(ScramMechanism, String), ScramCredential> {
    let mut out = BTreeMap::new();
    for (path, config) in configs {
        let Some(user) = path.strip_prefix("users/").filter(|u| !u.contains('/')) else {
            continue;
        };
        for m in ScramMechanism::ALL {
            if let Some(text) = config.get(m.name()) {
                match ScramCredential::parse(text) {
                    Ok(c) => {
                        out.insert((m, desanitize(user)), c);
                    }
                    Err(e) => {
                        tracing::warn!(entity = %path, mechanism = m.name(), error = %e, "ignoring a SCRAM credential")
                    }
                }
            }
        }
    }
    out
}

type Failure = (ResponseError, String);
/// Per user: keys to set and keys to remove, or the first failure.
type UserChanges = BTreeMap<String, Result<(BTreeMap<String, String>, Vec<String>), Failure>>;

impl Api for AlterUserScramCredentials {
    const KEY: ApiKey = ApiKey::AlterUserScramCredentials;
    type Request = AlterUserScramCredentialsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        _call: &Call<'_>,
        request: AlterUserScramCredentialsRequest,
    ) -> Answer<Response<Self>> {
        // Per user: keys to set, keys to remove, or the first failure.
        let mut users: UserChanges = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let existing = match broker.metadata.entity_configs().await {
            Ok(c) => c,
            Err(e) => {
                let (error, message) = super::admin::store_refusal(e);
                let mut names: Vec<String> = request
                    .deletions
                    .iter()
                    .map(|d| d.name.to_string())
                    .chain(request.upsertions.iter().map(|u| u.name.to_string()))
                    .collect();
                names.sort();
                names.dedup();
                return AlterUserScramCredentialsResponse::default()
                    .with_results(
                        names
                            .into_iter()
                            .map(|n| result(&n, Err((error, message.clone()))))
                            .collect(),
                    )
                    .into();
            }
        };
        let fail = |users: &mut BTreeMap<_, _>, name: &str, f: Failure| {
            users.insert(name.to_string(), Err(f));
        };
        for d in &request.deletions {
            let name = d.name.to_string();
            if !seen.insert((name.clone(), d.mechanism)) {
                fail(
                    &mut users,
                    &name,
                    (
                        ResponseError::DuplicateResource,
                        "A user credential cannot be altered twice in the same request".into(),
                    ),
                );
                continue;
            }
            let check = check_common(&name, d.mechanism).and_then(|m| {
                let has = existing
                    .get(&format!("users/{}", sanitize(&name)))
                    .is_some_and(|c| c.contains_key(m.name()));
                if has {
                    Ok(m)
                } else {
                    Err((
                        ResponseError::ResourceNotFound,
                        "Attempt to delete a user credential that does not exist".into(),
                    ))
                }
            });
            match check {
                Ok(m) => {
                    if let Ok((_, remove)) =
                        users.entry(name).or_insert_with(|| Ok(Default::default()))
                    {
                        remove.push(m.name().to_string());
                    }
                }
                Err(f) => fail(&mut users, &name, f),
            }
        }
        for u in &request.upsertions {
            let name = u.name.to_string();
            if !seen.insert((name.clone(), u.mechanism)) {
                fail(
                    &mut users,
                    &name,
                    (
                        ResponseError::DuplicateResource,
                        "A user credential cannot be altered twice in the same request".into(),
                    ),
                );
                continue;
            }
            let check = check_common(&name, u.mechanism).and_then(|m| {
                if u.iterations < MIN_ITERATIONS {
                    Err((
                        ResponseError::UnacceptableCredential,
                        "Too few iterations".into(),
                    ))
                } else if u.iterations > MAX_ITERATIONS {
                    Err((
                        ResponseError::UnacceptableCredential,
                        "Too many iterations".into(),
                    ))
                } else if u.salt.is_empty() || u.salted_password.is_empty() {
                    Err((
                        ResponseError::UnacceptableCredential,
                        "Salt and salted password must not be empty".into(),
                    ))
                } else {
                    Ok(m)
                }
            });
            match check {
                Ok(m) => {
                    let credential = ScramCredential::from_salted_password(
                        m,
                        &u.salt,
                        &u.salted_password,
                        u.iterations,
                    );
                    if let Ok((set, _)) =
                        users.entry(name).or_insert_with(|| Ok(Default::default()))
                    {
                        set.insert(m.name().to_string(), credential.to_kafka_string());
                    }
                }
                Err(f) => fail(&mut users, &name, f),
            }
        }
        let mut results = Vec::with_capacity(users.len());
        let mut changed = false;
        for (name, change) in users {
            let outcome = match change {
                Err(f) => Err(f),
                Ok((set, remove)) => {
                    let path = format!("users/{}", sanitize(&name));
                    match broker
                        .metadata
                        .alter_entity_config(&path, &set, &remove)
                        .await
                    {
                        Ok(()) => {
                            changed = true;
                            tracing::info!(user = %name, set = ?set.keys().collect::<Vec<_>>(), ?remove, "SCRAM credentials altered");
                            Ok(())
                        }
                        Err(e) => Err(super::admin::store_refusal(e)),
                    }
                }
            };
            results.push(result(&name, outcome));
        }
        if changed {
            broker.reload_entity_configs().await;
        }
        AlterUserScramCredentialsResponse::default()
            .with_results(results)
            .into()
    }
}

fn check_common(name: &str, mechanism: i8) -> Result<ScramMechanism, Failure> {
    if name.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty".into(),
        ));
    }
    ScramMechanism::from_type_id(mechanism).ok_or((
        ResponseError::UnsupportedSaslMechanism,
        "Unknown SCRAM mechanism".into(),
    ))
}

fn result(name: &str, outcome: Result<(), Failure>) -> AlterUserScramCredentialsResult {
    let r = AlterUserScramCredentialsResult::default()
        .with_user(StrBytes::from_string(name.to_string()));
    match outcome {
        Ok(()) => r,
        Err((error, message)) => r
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(message))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_read_from_user_entities_only() {
        let c = ScramCredential::from_password(ScramMechanism::Sha256, "pw", 4096);
        let mut configs = EntityConfigs::new();
        configs.insert(
            "users/CN%3Dx".into(),
            [
                ("SCRAM-SHA-256".to_string(), c.to_kafka_string()),
                ("producer_byte_rate".to_string(), "1024".to_string()),
            ]
            .into(),
        );
        configs.insert(
            "users/a/clients/b".into(),
            [("SCRAM-SHA-256".to_string(), c.to_kafka_string())].into(),
        );
        let got = credentials_of(&configs);
        assert_eq!(got.len(), 1);
        assert_eq!(got.get(&(ScramMechanism::Sha256, "CN=x".into())), Some(&c));
    }
}

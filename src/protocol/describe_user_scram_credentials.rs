//! DescribeUserScramCredentials (v0): the mechanisms and iteration counts
//! of users' SCRAM credentials (never salts or keys), read from the
//! metadata store; every user when the list is null or empty. Kafka's
//! per-user errors: RESOURCE_NOT_FOUND for a user without credentials,
//! DUPLICATE_RESOURCE for a user asked twice.

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    ApiKey, DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::alter_user_scram_credentials::credentials_of;
use super::router::{Answer, Api, Call, Response};
use super::Broker;

pub struct DescribeUserScramCredentials;

impl Api for DescribeUserScramCredentials {
    const KEY: ApiKey = ApiKey::DescribeUserScramCredentials;
    type Request = DescribeUserScramCredentialsRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 0;

    async fn handle(
        broker: &Broker,
        _call: &Call<'_>,
        request: DescribeUserScramCredentialsRequest,
    ) -> Answer<Response<Self>> {
        let configs = match broker.metadata.entity_configs().await {
            Ok(c) => c,
            Err(e) => {
                let (error, message) = super::admin::store_refusal(e);
                return DescribeUserScramCredentialsResponse::default()
                    .with_error_code(error.code())
                    .with_error_message(Some(StrBytes::from_string(message)))
                    .into();
            }
        };
        let mut by_user: BTreeMap<String, Vec<CredentialInfo>> = BTreeMap::new();
        for ((m, user), c) in credentials_of(&configs) {
            by_user.entry(user).or_default().push(
                CredentialInfo::default()
                    .with_mechanism(m.type_id())
                    .with_iterations(c.iterations),
            );
        }
        let wanted: Vec<String> = request
            .users
            .unwrap_or_default()
            .iter()
            .map(|u| u.name.to_string())
            .collect();
        let results = if wanted.is_empty() {
            by_user
                .into_iter()
                .map(|(user, infos)| {
                    DescribeUserScramCredentialsResult::default()
                        .with_user(StrBytes::from_string(user))
                        .with_credential_infos(infos)
                })
                .collect()
        } else {
            let mut out = Vec::new();
            for (i, user) in wanted.iter().enumerate() {
                let r = DescribeUserScramCredentialsResult::default()
                    .with_user(StrBytes::from_string(user.clone()));
                let r = if wanted[..i].contains(user) {
                    r.with_error_code(ResponseError::DuplicateResource.code())
                        .with_error_message(Some(StrBytes::from_string(format!(
                            "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                        ))))
                } else if let Some(infos) = by_user.get(user) {
                    r.with_credential_infos(infos.clone())
                } else {
                    r.with_error_code(ResponseError::ResourceNotFound.code())
                        .with_error_message(Some(StrBytes::from_string(format!(
                            "Attempt to describe a user credential that does not exist: {user}"
                        ))))
                };
                out.push(r);
            }
            out
        };
        DescribeUserScramCredentialsResponse::default()
            .with_results(results)
            .into()
    }
}

//! `kafka-configs --entity-type users --entity-name U --alter --add-config
//! 'SCRAM-SHA-256=[iterations=8192,password=…]' --delete-config SCRAM-SHA-512`
//! and `--describe`: SCRAM credentials as Kafka 3.5's `ConfigCommand` handles
//! them, through AlterUserScramCredentials (the salted password is computed
//! here, with a fresh random salt; 4096 iterations unless given) and
//! DescribeUserScramCredentials (`SCRAM credential configs for
//! user-principal 'U' are SCRAM-SHA-256=iterations=8192`).

use std::time::Duration;

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, DescribeUserScramCredentialsRequest,
};

use super::{deadline, str_bytes, ToolError};
use crate::client::Connection;
use crate::security::scram::ScramMechanism;

/// Whether a config key is a SCRAM mechanism (not a quota).
pub fn is_scram_key(key: &str) -> bool {
    ScramMechanism::from_name(key).is_some()
}

/// `[iterations=8192,password=…]`'s inner text → (iterations, password).
fn parse_value(key: &str, value: &str) -> Result<(i32, String), ToolError> {
    let mut iterations = crate::security::scram::MIN_ITERATIONS;
    let mut password = None;
    for part in value.split(',') {
        match part.split_once('=') {
            Some(("iterations", n)) => {
                iterations = n.trim().parse().map_err(|_| {
                    ToolError::Usage(format!("{key}: iterations must be a number, not '{n}'"))
                })?
            }
            Some(("password", p)) => password = Some(p.to_string()),
            _ => {
                return Err(ToolError::Usage(format!(
                    "{key} expects [iterations=N,password=P]"
                )))
            }
        }
    }
    let password = password.ok_or_else(|| ToolError::Usage(format!("{key} needs password=…")))?;
    Ok((iterations, password))
}

/// Upserts and deletes one user's SCRAM credentials.
pub async fn alter(
    conn: &mut Connection,
    user: &str,
    add: &[(String, String)],
    delete: &[String],
    timeout: Duration,
) -> Result<(), ToolError> {
    let mut upsertions = Vec::new();
    for (key, value) in add {
        let Some(m) = ScramMechanism::from_name(key) else {
            continue;
        };
        let (iterations, password) = parse_value(key, value)?;
        let salt = crate::security::scram::random_salt();
        let salted = m.salted_password(
            password.as_bytes(),
            &salt,
            u32::try_from(iterations).unwrap_or(4096),
        );
        upsertions.push(
            ScramCredentialUpsertion::default()
                .with_name(str_bytes(user))
                .with_mechanism(m.type_id())
                .with_iterations(iterations)
                .with_salt(salt.into())
                .with_salted_password(salted.into()),
        );
    }
    let deletions: Vec<ScramCredentialDeletion> = delete
        .iter()
        .filter_map(|k| ScramMechanism::from_name(k))
        .map(|m| {
            ScramCredentialDeletion::default()
                .with_name(str_bytes(user))
                .with_mechanism(m.type_id())
        })
        .collect();
    if upsertions.is_empty() && deletions.is_empty() {
        return Ok(());
    }
    let version = conn.version_for::<AlterUserScramCredentialsRequest>(0)?;
    let req = AlterUserScramCredentialsRequest::default()
        .with_upsertions(upsertions)
        .with_deletions(deletions);
    let resp = deadline(
        timeout,
        "altering SCRAM credentials",
        conn.send(req, version),
    )
    .await?;
    for r in &resp.results {
        if r.error_code != 0 {
            return Err(ToolError::broker(
                "AlterUserScramCredentials",
                r.error_code,
                r.error_message.as_ref(),
            ));
        }
    }
    Ok(())
}

/// Prints the SCRAM credentials of `users` (every user when empty), as Kafka does.
pub async fn describe(
    conn: &mut Connection,
    users: &[String],
    timeout: Duration,
) -> Result<(), ToolError> {
    let version = conn.version_for::<DescribeUserScramCredentialsRequest>(0)?;
    let req = DescribeUserScramCredentialsRequest::default().with_users(if users.is_empty() {
        None
    } else {
        Some(
            users
                .iter()
                .map(|u| UserName::default().with_name(str_bytes(u)))
                .collect(),
        )
    });
    let resp = deadline(
        timeout,
        "describing SCRAM credentials",
        conn.send(req, version),
    )
    .await?;
    if resp.error_code != 0 {
        return Err(ToolError::broker(
            "DescribeUserScramCredentials",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    for r in &resp.results {
        // A user without credentials is no error for describe.
        if r.error_code != 0 || r.credential_infos.is_empty() {
            continue;
        }
        let infos: Vec<String> = r
            .credential_infos
            .iter()
            .map(|i| {
                let name =
                    ScramMechanism::from_type_id(i.mechanism).map_or("UNKNOWN", |m| m.name());
                format!("{name}=iterations={}", i.iterations)
            })
            .collect();
        println!(
            "SCRAM credential configs for user-principal '{}' are {}",
            r.user.as_str(),
            infos.join(", ")
        );
    }
    Ok(())
}

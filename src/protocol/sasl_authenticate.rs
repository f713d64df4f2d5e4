//! SaslAuthenticate (v0–2): one SASL token of the exchange the handshake
//! started. Success sets the connection's principal and (v1+) tells the
//! client its session lifetime (KIP-368, `connections.max.reauth.ms`); a
//! failure answers SASL_AUTHENTICATION_FAILED with Kafka's message and
//! closes the connection. On a listener without SASL: ILLEGAL_SASL_STATE.

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::router::{Answer, Api, Call, Response};
use super::{Broker, RequestContext};
use crate::security::sasl::SaslFailure;

pub struct SaslAuthenticate;

/// Feeds one token to the connection's session (SaslAuthenticate and the
/// bare tokens after SaslHandshake v0): the token to answer, or why the
/// authentication failed (logged here).
pub(super) fn step(
    broker: &Broker,
    ctx: &RequestContext,
    token: &[u8],
) -> Result<(Vec<u8>, i64), (i16, String)> {
    let Some(session) = &ctx.sasl else {
        return Err((
            ResponseError::IllegalSaslState.code(),
            "SaslAuthenticate request received after successful authentication".into(),
        ));
    };
    let mut session = session.lock();
    let mechanism = session.mechanism().unwrap_or("none");
    let reauthenticating = session.reauthenticating();
    match session.authenticate(token, broker.scram.as_ref(), std::time::Instant::now()) {
        Ok(step) => {
            let mut lifetime = 0;
            if let Some((principal, session_ms)) = step.authenticated {
                if reauthenticating {
                    tracing::debug!(peer = %ctx.peer, %principal, mechanism, "SASL re-authentication succeeded");
                    crate::metrics::reauthenticated();
                } else {
                    tracing::info!(peer = %ctx.peer, %principal, mechanism, "SASL authentication succeeded");
                }
                ctx.set_principal(principal);
                lifetime = session_ms;
            }
            Ok((step.token, lifetime))
        }
        Err(failure) => {
            let detail = match &failure {
                SaslFailure::InvalidCredentials { detail, .. } => detail.clone(),
                SaslFailure::Message(m) => m.clone(),
            };
            tracing::info!(peer = %ctx.peer, mechanism, reason = %detail, "SASL authentication failed; closing the connection");
            crate::metrics::connection_refused("sasl_authentication");
            ctx.close_after_response();
            Err((
                ResponseError::SaslAuthenticationFailed.code(),
                failure.to_string(),
            ))
        }
    }
}

impl Api for SaslAuthenticate {
    const KEY: ApiKey = ApiKey::SaslAuthenticate;
    type Request = SaslAuthenticateRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 2;

    async fn handle(
        broker: &Broker,
        call: &Call<'_>,
        request: SaslAuthenticateRequest,
    ) -> Answer<Response<Self>> {
        match step(broker, call.ctx, &request.auth_bytes) {
            Ok((token, lifetime)) => SaslAuthenticateResponse::default()
                .with_auth_bytes(Bytes::from(token))
                .with_session_lifetime_ms(lifetime)
                .into(),
            Err((code, message)) => SaslAuthenticateResponse::default()
                .with_error_code(code)
                .with_error_message(Some(StrBytes::from_string(message)))
                .into(),
        }
    }
}

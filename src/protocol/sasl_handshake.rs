//! SaslHandshake (v0–1): the client names its SASL mechanism. On a SASL
//! listener the connection's session starts the exchange (v1: tokens in
//! SaslAuthenticate; v0: bare tokens follow); a mechanism that is not
//! enabled answers UNSUPPORTED_SASL_MECHANISM with the enabled ones and
//! closes. On other listeners, as in Kafka, ILLEGAL_SASL_STATE.

use kafka_protocol::messages::{ApiKey, SaslHandshakeRequest, SaslHandshakeResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::router::{Answer, Api, Call, Response};
use super::Broker;
use crate::security::sasl::HandshakeRefusal;

pub struct SaslHandshake;

impl Api for SaslHandshake {
    const KEY: ApiKey = ApiKey::SaslHandshake;
    type Request = SaslHandshakeRequest;
    const MIN_VERSION: i16 = 0;
    const MAX_VERSION: i16 = 1;

    async fn handle(
        _broker: &Broker,
        call: &Call<'_>,
        request: SaslHandshakeRequest,
    ) -> Answer<Response<Self>> {
        let ctx = call.ctx;
        let Some(session) = &ctx.sasl else {
            return SaslHandshakeResponse::default()
                .with_error_code(ResponseError::IllegalSaslState.code())
                .into();
        };
        let mut session = session.lock();
        let mechanisms = session
            .enabled_mechanisms()
            .into_iter()
            .map(StrBytes::from_static_str)
            .collect();
        let code = match session.handshake(request.mechanism.as_str(), call.version) {
            Ok(()) => 0,
            Err(refusal) => {
                tracing::info!(
                    peer = %ctx.peer,
                    mechanism = %request.mechanism.as_str(),
                    ?refusal,
                    "SASL handshake refused; closing the connection"
                );
                ctx.close_after_response();
                match refusal {
                    HandshakeRefusal::UnsupportedMechanism => {
                        ResponseError::UnsupportedSaslMechanism.code()
                    }
                    HandshakeRefusal::IllegalState => ResponseError::IllegalSaslState.code(),
                }
            }
        };
        SaslHandshakeResponse::default()
            .with_error_code(code)
            .with_mechanisms(mechanisms)
            .into()
    }
}

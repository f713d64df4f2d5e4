//! The web console on `console.listener` (being built): for now the
//! overview's first line.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::EndpointState;

/// The console's routes.
pub fn router(state: Arc<EndpointState>) -> Router {
    Router::new().route("/", get(overview)).with_state(state)
}

async fn overview(State(state): State<Arc<EndpointState>>) -> Response {
    match state.sources() {
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "starting: logs not recovered\n",
        )
            .into_response(),
        Some(s) => Html(format!(
            "<!doctype html><title>strom</title><h1>strom broker {}</h1>",
            s.config.broker_id
        ))
        .into_response(),
    }
}

//! `GET /v1/health`: is the daemon up? No authentication, no store access, nothing that
//! could tell a caller anything but "ok" and the version.

use axum::Json;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
}

#[utoipa::path(
    get,
    path = "/v1/health",
    operation_id = "getHealth",
    tag = "meta",
    summary = "Is the daemon up?",
    responses((status = 200, description = "Up", body = super::openapi::HealthSchema)),
)]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

//! The principal's admin API (docs/admin-api.md) spoken directly over
//! `DATA_DIR/admin.sock`, for the scenarios that need hundreds of admin calls at once
//! (approving 1,000 pending requests while the kill switch is engaged): spawning the
//! `purser` CLI for each would measure process start-up, not the daemon.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::http::Request;

/// `METHOD PATH` with an optional JSON body on the admin socket of `data_dir`; the status
/// and the JSON answer (`Null` when the body is not JSON).
pub fn call(data_dir: &Path, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut request = Request::new(method, path)
        .header("Host", "localhost")
        .timeout(Duration::from_secs(60));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send_unix(&data_dir.join("admin.sock"));
    let json = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, json)
}

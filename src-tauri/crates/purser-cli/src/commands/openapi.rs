//! `purser openapi`: prints the agent API's OpenAPI 3.1 document, generated from the
//! daemon's code (the same document the daemon serves at `/v1/openapi.json`). Needs no
//! daemon. `docs/openapi.json` is this command's output.

use std::io::Write;

use crate::failure::Failure;

pub fn run() -> Result<(), Failure> {
    let document = purser_daemon::http::openapi_json_pretty();
    std::io::stdout()
        .lock()
        .write_all(document.as_bytes())
        .map_err(|error| Failure::failed(format!("cannot write the document: {error}")))
}

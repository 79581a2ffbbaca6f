//! [`IpcError`]: how a refused command crosses to the web UI, as the admin API's error
//! object without its wrapper: `{code, message, field?, errors?}` (docs/admin-api.md).
//!
//! There is one mapping from the daemon's errors: [`ConsoleError`] goes through the admin
//! API's own [`AdminError`] conversion, so the console and `admin.sock` answer the same
//! thing with the same code and message. Failures of the shell itself (the daemon did
//! not start, a file could not be written) use the same codes.

use purser_daemon::ConsoleError;
use purser_daemon::admin::AdminError;
use serde::Serialize;

/// A refused command, as the UI receives it (`ui/src/lib/types.ts` `ApiErrorShape`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IpcError {
    pub code: String,
    pub message: String,
    /// The one argument at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `policy_invalid`: one `file:line:col: message` per problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
}

impl IpcError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> IpcError {
        IpcError {
            code: code.into(),
            message: message.into(),
            field: None,
            errors: None,
        }
    }

    /// `invalid_request` naming the argument at fault.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> IpcError {
        IpcError {
            field: Some(field.into()),
            ..IpcError::new("invalid_request", message)
        }
    }

    pub fn not_found(message: impl Into<String>) -> IpcError {
        IpcError::new("not_found", message)
    }

    /// The daemon cannot do it now (it did not start, or it is stopping).
    pub fn unavailable(message: impl Into<String>) -> IpcError {
        IpcError::new("unavailable", message)
    }
}

impl From<AdminError> for IpcError {
    fn from(error: AdminError) -> IpcError {
        match error {
            AdminError::Api(api) => IpcError {
                code: api.code.as_str().to_owned(),
                message: api.message,
                field: api.field,
                errors: None,
            },
            AdminError::PolicyInvalid { errors } => IpcError {
                code: "policy_invalid".to_owned(),
                message: format!(
                    "the policy is invalid ({} problem{}); nothing was changed",
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" },
                ),
                field: None,
                errors: Some(errors),
            },
        }
    }
}

impl From<ConsoleError> for IpcError {
    fn from(error: ConsoleError) -> IpcError {
        IpcError::from(AdminError::from(error))
    }
}

impl From<purser_daemon::StoreError> for IpcError {
    fn from(error: purser_daemon::StoreError) -> IpcError {
        IpcError::from(AdminError::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_parts_are_left_out_of_the_json() {
        assert_eq!(
            serde_json::to_value(IpcError::not_found("agent x not found")).unwrap(),
            json!({"code": "not_found", "message": "agent x not found"})
        );
        assert_eq!(
            serde_json::to_value(IpcError::invalid_field("name", "too long")).unwrap(),
            json!({"code": "invalid_request", "message": "too long", "field": "name"})
        );
    }

    #[test]
    fn store_failures_fail_closed_as_unavailable() {
        let error = IpcError::from(purser_daemon::StoreError::Unavailable("disk".into()));
        assert_eq!(error.code, "unavailable");
        assert!(!error.message.contains("disk"), "internals stay in the log");
    }
}

//! The principal's inbox: pending approvals, and deciding one (approve with a grant, or
//! deny with a reason). The store re-checks every deny rule when approving, so an
//! approval may come back `denied` (a budget or the kill switch refused it).

use purser_core::PolicyDuration;
use purser_daemon::console::view::AuthorizationDetail;
use purser_store::GrantChoice;

use crate::error::IpcError;
use crate::startup::DesktopConsole;

/// Longest authorization id; longer ones cannot exist.
const MAX_ID_LEN: usize = 128;
/// Longest denial reason, in characters.
pub const MAX_REASON_CHARS: usize = 1000;

/// Pending approvals, oldest first, with everything the agent said.
pub async fn approvals(console: &DesktopConsole) -> Result<Vec<AuthorizationDetail>, IpcError> {
    let pending = console.approvals().await?;
    Ok(pending.iter().map(AuthorizationDetail::from).collect())
}

/// `grant`: `once`, `for` (with `duration` such as `"15m"`), `session` or `always`.
pub async fn approve(
    console: &DesktopConsole,
    id: &str,
    grant: &str,
    duration: Option<&str>,
) -> Result<AuthorizationDetail, IpcError> {
    let id = authorization_id(id)?;
    let choice = grant_choice(grant, duration)?;
    let decided = console.approve(id, choice).await?;
    Ok(AuthorizationDetail::from(&decided))
}

pub async fn deny(
    console: &DesktopConsole,
    id: &str,
    reason: Option<&str>,
) -> Result<AuthorizationDetail, IpcError> {
    let id = authorization_id(id)?;
    let reason = optional_reason(reason)?;
    let decided = console.deny(id, reason).await?;
    Ok(AuthorizationDetail::from(&decided))
}

/// A reason given by the principal: blank is none, and it is bounded.
pub fn optional_reason(reason: Option<&str>) -> Result<Option<String>, IpcError> {
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    if reason.is_some_and(|reason| reason.chars().count() > MAX_REASON_CHARS) {
        return Err(IpcError::invalid_field(
            "reason",
            format!("a reason is at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason.map(str::to_owned))
}

fn grant_choice(grant: &str, duration: Option<&str>) -> Result<GrantChoice, IpcError> {
    let choice = match grant {
        "once" => GrantChoice::Once,
        "for" => {
            let text = duration.ok_or_else(|| {
                IpcError::invalid_field(
                    "duration",
                    "an approval \"for\" a while needs a duration such as \"15m\"",
                )
            })?;
            let duration = text
                .parse::<PolicyDuration>()
                .map_err(|error| IpcError::invalid_field("duration", error.to_string()))?;
            GrantChoice::For(duration)
        }
        "session" => GrantChoice::Session,
        "always" => GrantChoice::Always,
        other => {
            return Err(IpcError::invalid_field(
                "grant",
                format!("grant {other:?} is unknown: use once, for, session or always"),
            ));
        }
    };
    if duration.is_some() && !matches!(choice, GrantChoice::For(_)) {
        return Err(IpcError::invalid_field(
            "duration",
            "a duration goes only with the grant \"for\"",
        ));
    }
    Ok(choice)
}

/// An id that could name an authorization; anything else is simply not found.
fn authorization_id(id: &str) -> Result<&str, IpcError> {
    let plausible = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plausible {
        Ok(id)
    } else {
        Err(IpcError::not_found("no such authorization"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_are_parsed_with_their_duration_only_for_for() {
        assert_eq!(grant_choice("once", None).unwrap(), GrantChoice::Once);
        assert!(matches!(
            grant_choice("for", Some("15m")).unwrap(),
            GrantChoice::For(_)
        ));
        assert_eq!(
            grant_choice("for", None).unwrap_err().field.as_deref(),
            Some("duration")
        );
        assert_eq!(
            grant_choice("once", Some("15m"))
                .unwrap_err()
                .field
                .as_deref(),
            Some("duration")
        );
        assert_eq!(
            grant_choice("forever", None).unwrap_err().field.as_deref(),
            Some("grant")
        );
    }

    #[test]
    fn reasons_are_trimmed_and_bounded() {
        assert_eq!(optional_reason(Some("  ")).unwrap(), None);
        assert_eq!(
            optional_reason(Some(" too much ")).unwrap().as_deref(),
            Some("too much")
        );
        assert!(optional_reason(Some(&"x".repeat(MAX_REASON_CHARS + 1))).is_err());
    }

    #[test]
    fn implausible_ids_are_not_found() {
        assert_eq!(authorization_id("auth_01").unwrap(), "auth_01");
        assert_eq!(authorization_id("../etc").unwrap_err().code, "not_found");
        assert_eq!(authorization_id("").unwrap_err().code, "not_found");
    }
}

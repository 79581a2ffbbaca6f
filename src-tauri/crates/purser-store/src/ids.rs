//! Identifiers the store mints: `auth_…` and `grant_…`, each a prefix and 26 Crockford
//! base-32 characters of 48 bits of milliseconds and 80 random bits (ULID layout), so
//! they sort by creation time and cannot be guessed by another agent.

use purser_core::Timestamp;

use crate::StoreError;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ENCODED_CHARS: usize = 26;

pub(crate) fn new_id(prefix: &str, now: Timestamp) -> Result<String, StoreError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random[6..])
        .map_err(|e| StoreError::Unavailable(format!("no randomness for a new id: {e}")))?;
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0) & ((1 << 48) - 1);
    let value = (u128::from(millis) << 80) | u128::from_be_bytes(random);
    let mut id = String::with_capacity(prefix.len() + ENCODED_CHARS);
    id.push_str(prefix);
    for position in (0..ENCODED_CHARS).rev() {
        let digit = (value >> (position * 5)) & 0x1f;
        id.push(char::from(CROCKFORD[usize::try_from(digit).unwrap_or(0)]));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_are_prefixed_unique_and_time_ordered() {
        let early = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let late = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 1).unwrap();
        let a = new_id("auth_", early).unwrap();
        let b = new_id("auth_", early).unwrap();
        let c = new_id("auth_", late).unwrap();
        assert_eq!(a.len(), 5 + 26);
        assert!(a.starts_with("auth_"));
        assert_ne!(a, b);
        assert!(a < c && b < c);
        assert!(a[5..].bytes().all(|b| CROCKFORD.contains(&b)));
    }
}

//! Stripe's request bodies: `application/x-www-form-urlencoded` with bracketed keys
//! (`metadata[merchant]=…`, `line_items[0][price]=…`). The proxy reads the few fields it
//! needs and forwards the body as the agent sent it (plus Purser's own metadata key).

use std::borrow::Cow;

use super::error::StripeError;

/// Metadata keys that only Purser writes (`metadata[purser_authorization]`).
pub const PURSER_METADATA_PREFIX: &str = "metadata[purser_";

/// A decoded form body, in order, keys as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Decodes a form body; anything but form data (JSON, binary) is refused, so that
    /// what Purser reads is what Stripe will read.
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Form, StripeError> {
        if body.is_empty() {
            return Ok(Form::default());
        }
        let is_form = content_type.is_some_and(|value| {
            value.split(';').next().is_some_and(|mime| {
                mime.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
        if !is_form {
            return Err(StripeError::invalid_request(
                "Purser's Stripe proxy reads request bodies as application/x-www-form-urlencoded, as Stripe's v1 API and SDKs send them",
                None,
            ));
        }
        if std::str::from_utf8(body).is_err() {
            return Err(StripeError::invalid_request(
                "the request body is not UTF-8 form data",
                None,
            ));
        }
        let pairs = form_urlencoded::parse(body)
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        Ok(Form { pairs })
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    /// A metadata value, `metadata[NAME]`.
    pub fn metadata(&self, name: &str) -> Option<&str> {
        self.get(&format!("metadata[{name}]"))
            .filter(|value| !value.trim().is_empty())
    }

    /// Is any key equal to `key` or nested under it (`key[...]`)?
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(name, _)| {
            name == key
                || name
                    .strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with('['))
        })
    }

    /// The first key that only Purser may write, if the agent sent one.
    pub fn purser_key(&self) -> Option<&str> {
        self.pairs
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| {
                name.to_ascii_lowercase()
                    .starts_with(PURSER_METADATA_PREFIX)
            })
    }

    /// A non-negative integer field (Stripe's minor units), or a Stripe-shaped error
    /// naming it.
    pub fn integer(&self, key: &str) -> Result<Option<u64>, StripeError> {
        let Some(text) = self.get(key) else {
            return Ok(None);
        };
        let valid =
            !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit());
        match text.parse::<u64>() {
            Ok(value) if valid => Ok(Some(value)),
            _ => Err(StripeError::invalid_request(
                format!("Invalid integer: {text}"),
                Some(key),
            )),
        }
    }

    /// The `line_items[N][FIELD]` values, by index in order: `(price, quantity)` text.
    pub fn line_items(&self) -> Vec<(usize, Cow<'_, str>, Cow<'_, str>)> {
        let mut items: Vec<(usize, Cow<'_, str>, Cow<'_, str>)> = Vec::new();
        for (name, value) in &self.pairs {
            let Some(rest) = name.strip_prefix("line_items[") else {
                continue;
            };
            let Some((index, field)) = rest.split_once(']') else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            let slot = match items.iter().position(|(i, _, _)| *i == index) {
                Some(slot) => slot,
                None => {
                    items.push((index, Cow::Borrowed(""), Cow::Borrowed("")));
                    items.len() - 1
                }
            };
            match field {
                "[price]" => items[slot].1 = Cow::Borrowed(value.as_str()),
                "[quantity]" => items[slot].2 = Cow::Borrowed(value.as_str()),
                _ => {}
            }
        }
        items.sort_by_key(|(index, _, _)| *index);
        items
    }

    /// Every field of the body, e.g. for `line_items[0][adjustable_quantity][enabled]`.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// `body` with `metadata[KEY]=VALUE` appended, form-encoded.
pub fn append_metadata(body: &[u8], key: &str, value: &str) -> Vec<u8> {
    let mut out = body.to_vec();
    if !out.is_empty() {
        out.push(b'&');
    }
    let pair: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(&format!("metadata[{key}]"), value)
        .finish();
    out.extend_from_slice(pair.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn reads_what_stripe_sdks_send() {
        let form = Form::parse(
            FORM,
            b"amount=1234&currency=usd&metadata[merchant]=shop.example&metadata%5Bpurpose%5D=Buy+it&confirm=true",
        )
        .unwrap_or_default();
        assert_eq!(form.integer("amount").ok().flatten(), Some(1234));
        assert_eq!(form.get("currency"), Some("usd"));
        assert_eq!(form.metadata("merchant"), Some("shop.example"));
        assert_eq!(form.metadata("purpose"), Some("Buy it"));
        assert!(form.has("metadata"));
        assert!(!form.has("meta"));
        assert_eq!(form.purser_key(), None);
    }

    #[test]
    fn refuses_what_purser_could_misread() {
        assert!(Form::parse(Some("application/json"), b"{\"amount\":1}").is_err());
        assert!(Form::parse(None, b"amount=1").is_err());
        let form = Form::parse(FORM, b"amount=12.5&b=-1&c=1e3").unwrap_or_default();
        for key in ["amount", "b", "c"] {
            assert!(form.integer(key).is_err(), "{key}");
        }
        let form = Form::parse(FORM, b"metadata[Purser_authorization]=auth_x").unwrap_or_default();
        assert_eq!(form.purser_key(), Some("metadata[Purser_authorization]"));
        assert!(Form::parse(FORM, b"").is_ok());
    }

    #[test]
    fn line_items_in_index_order() {
        let form = Form::parse(
            FORM,
            b"line_items[1][price]=price_b&line_items[0][price]=price_a&line_items[0][quantity]=2&line_items[1][quantity]=1",
        )
        .unwrap_or_default();
        let items: Vec<(usize, String, String)> = form
            .line_items()
            .into_iter()
            .map(|(i, p, q)| (i, p.into_owned(), q.into_owned()))
            .collect();
        assert_eq!(
            items,
            vec![
                (0, "price_a".into(), "2".into()),
                (1, "price_b".into(), "1".into())
            ]
        );
    }

    #[test]
    fn metadata_is_appended_encoded() {
        assert_eq!(
            append_metadata(b"amount=1", "purser_authorization", "auth_01"),
            b"amount=1&metadata%5Bpurser_authorization%5D=auth_01".to_vec()
        );
        assert_eq!(
            append_metadata(b"", "k", "v"),
            b"metadata%5Bk%5D=v".to_vec()
        );
    }
}

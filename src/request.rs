//! The upload API's request body, `{"encryptedRequest":"<ciphertext>"}`: made
//! around a ciphertext, and taken apart again to find the ciphertext inside.

use std::borrow::Cow;

/// Whether ciphertext text is written bare or inside a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CiphertextForm {
    /// The Base64 or hex text alone.
    #[default]
    Bare,
    /// `{"encryptedRequest":"<ciphertext>"}`, what the upload API takes.
    RequestBody,
}

impl CiphertextForm {
    /// What goes before the ciphertext text.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            CiphertextForm::Bare => "",
            CiphertextForm::RequestBody => "{\"encryptedRequest\":\"",
        }
    }

    /// What goes after the ciphertext text.
    pub(crate) fn suffix(self) -> &'static str {
        match self {
            CiphertextForm::Bare => "",
            CiphertextForm::RequestBody => "\"}",
        }
    }
}

/// The request body `{"encryptedRequest":"<ciphertext>"}`, on one line.
///
/// Base64 and hex need no JSON escaping, so the parts are joined as they are.
pub fn body(ciphertext: &str) -> String {
    let form = CiphertextForm::RequestBody;
    [form.prefix(), ciphertext, form.suffix()].concat()
}

/// Input that starts like JSON (`{`) but is no request body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the input is JSON but not a request body {{\"encryptedRequest\": \"...\"}}")]
#[non_exhaustive]
pub struct NotARequestBody;

/// Whether `input` starts like a request body: its first non-whitespace byte is `{`.
///
/// Base64 and hex never contain `{`, so this tells the two forms apart.
pub(crate) fn looks_like_body(input: &[u8]) -> bool {
    input.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// The ciphertext text in `input`: `input` itself, or the text inside it when
/// it is a request body (as `encrypt --request` writes it, or a captured request).
pub fn ciphertext_of(input: &[u8]) -> Result<Cow<'_, [u8]>, NotARequestBody> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(rename = "encryptedRequest")]
        encrypted_request: String,
    }
    if !looks_like_body(input) {
        return Ok(Cow::Borrowed(input));
    }
    serde_json::from_slice::<Body>(input)
        .map(|body| Cow::Owned(body.encrypted_request.into_bytes()))
        .map_err(|_| NotARequestBody)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_one_line_of_json() {
        let body = body("ab+/==");
        assert_eq!(body, r#"{"encryptedRequest":"ab+/=="}"#);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["encryptedRequest"], "ab+/==");
        let bare = CiphertextForm::default();
        assert_eq!((bare.prefix(), bare.suffix()), ("", ""));
    }

    #[test]
    fn bodies_unwrap_to_their_ciphertext() {
        let text = |input: &[u8]| ciphertext_of(input).map(|c| c.into_owned());
        assert_eq!(text(body("QUJD").as_bytes()), Ok(b"QUJD".to_vec()));
        let spaced = b" {\n \"encryptedRequest\" : \"00ff\", \"extra\": 1 }\n";
        assert_eq!(text(spaced), Ok(b"00ff".to_vec()));
        assert_eq!(text(b"QUJD\n"), Ok(b"QUJD\n".to_vec()));
        assert_eq!(text(br#"{"other":"x"}"#), Err(NotARequestBody));
        assert_eq!(text(b"{"), Err(NotARequestBody));
        assert!(looks_like_body(b"\n {") && !looks_like_body(b"QUJD{"));
    }
}

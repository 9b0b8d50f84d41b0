//! The dry run: a POSIX sh script that makes the same request with curl.
//!
//! The body travels in a here-document on file descriptor 3 and the headers
//! in one on standard input (`curl -H @-`), so neither the body (of any size:
//! no "Argument list too long") nor the API key (expanded from `$CE_API_KEY`
//! by the shell at run time) ever appears in a process's argument list.

use super::{Upload, header_lines};

/// Extra curl options that mirror the client's settings.
#[derive(Debug, Clone, Default)]
pub struct CurlOptions {
    /// `--cacert FILE` for each extra CA file.
    pub ca_files: Vec<String>,
    /// `--proxy URL`, or `--noproxy '*'` when `Some(None)`: the proxy was turned off.
    pub proxy: Option<Option<String>>,
    /// `--max-time SECONDS`.
    pub timeout_seconds: Option<f64>,
}

/// The script, ending with a newline.
pub fn curl_script(upload: &Upload<'_>, options: &CurlOptions) -> String {
    let mut args = vec![
        "curl -sS --fail-with-body".to_owned(),
        format!(
            "--proto {}",
            if upload.endpoint.is_https() {
                "'=https'"
            } else {
                "'=http'"
            }
        ),
        "-X POST".to_owned(),
    ];
    if let Some(seconds) = options.timeout_seconds {
        args.push(format!("--max-time {seconds}"));
    }
    for file in &options.ca_files {
        args.push(format!("--cacert {}", shell_quote(file)));
    }
    match &options.proxy {
        Some(Some(url)) => args.push(format!("--proxy {}", shell_quote(url))),
        Some(None) => args.push("--noproxy '*'".to_owned()),
        None => {}
    }
    args.push("-H @-".to_owned());
    args.push("--data-binary @/dev/fd/3".to_owned());
    args.push(shell_quote(upload.endpoint.as_str()));
    let mut script = String::new();
    script.push_str(": \"${CE_API_KEY:?set CE_API_KEY to the panel's API key}\"\n");
    script.push_str(&args.join(" \\\n  "));
    script.push_str(" \\\n  3<<'CE_CRYPT_BODY' <<CE_CRYPT_HEADERS\n");
    script.push_str(upload.body);
    script.push_str("\nCE_CRYPT_BODY\n");
    for (name, value) in header_lines(upload, "${CE_API_KEY}") {
        // An unquoted here-document expands `$`, `` ` `` and `\`: escape all but the key's.
        let value = if name == "Authorization" {
            value
        } else {
            heredoc_escape(&value)
        };
        script.push_str(&format!("{name}: {value}\n"));
    }
    script.push_str("CE_CRYPT_HEADERS\n");
    script
}

/// Single-quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn heredoc_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '$' | '`' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;
    use crate::upload::Endpoint;

    #[test]
    fn the_key_and_body_stay_out_of_argv() {
        let endpoint = Endpoint::default();
        let upload = Upload {
            endpoint: &endpoint,
            method: Method::CbcHex,
            asset_id: "it's$HOME",
            body: r#"{"encryptedRequest":"00ff"}"#,
        };
        let script = curl_script(&upload, &CurlOptions::default());
        let command_line = script.split("<<CE_CRYPT_HEADERS").next().unwrap();
        assert!(!command_line.contains("encryptedRequest"), "{script}");
        assert!(!command_line.contains("Bearer"), "{script}");
        assert!(
            script.contains("Authorization: Bearer ${CE_API_KEY}\n"),
            "{script}"
        );
        assert!(script.contains("x-asset: it's\\$HOME\n"), "{script}");
        assert!(script.contains("x-eCode: 11257\n"), "{script}");
        assert!(
            script.contains("\n{\"encryptedRequest\":\"00ff\"}\nCE_CRYPT_BODY\n"),
            "{script}"
        );
        assert!(script.contains("'https://api2.netcoresmartech.com/v1/activity/upload'"));
    }
}

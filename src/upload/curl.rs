//! The dry run: a POSIX sh script that makes the same request with curl.
//!
//! It is safe to run in any POSIX shell (dash, bash, zsh, ksh, busybox sh),
//! whatever the values it carries:
//! - `#!/bin/sh` first; every value (URL, asset id, CA file, proxy, timeout,
//!   header lines) is single-quoted, a `'` in it written `'\''`; comments and
//!   messages hold no quote, `$`, backslash or backtick of their own.
//! - The header lines go through `printf '%s\n'` (a shell built-in, so in no
//!   process's argument list) to `curl -H @-`; the API key is expanded there
//!   from `$CE_API_KEY` inside double quotes, once: its value is never read
//!   as shell text. The script never holds the key.
//! - The body travels in a quoted here-document on file descriptor 3, which
//!   expands nothing; it is one line of JSON (Base64 or hex inside), so it
//!   can never be the terminator, and any size works (no "Argument list too
//!   long").
//! - curl sends the URL as given: `--globoff` (no `{}`/`[]` ranges) and
//!   `--path-as-is` (no `/../` squashing), as the client does.
//! - A proxy's credentials are never written, not even redacted: the script
//!   passes `--proxy-user "$CE_PROXY_USER"` and says so in a comment.

use super::{Upload, header_lines};

/// Where the script's curl takes its proxy from, mirroring the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum CurlProxy {
    /// The environment, which curl reads as the client does.
    #[default]
    Environment,
    /// None: `--noproxy '*'` (the proxy turned off, or a plain-http endpoint).
    Direct,
    /// `--proxy URL`, the URL without credentials; with `credentials`,
    /// `--proxy-user "$CE_PROXY_USER"` too.
    Url {
        /// `scheme://host[:port]`.
        url: String,
        /// Whether the proxy needs a user name (and password).
        credentials: bool,
    },
}

/// Extra curl options that mirror the client's settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct CurlOptions {
    /// `--cacert FILE` for each extra CA file.
    pub ca_files: Vec<String>,
    /// The proxy; a plain-http endpoint gets `--noproxy '*'` whatever this says.
    pub proxy: CurlProxy,
    /// `--max-time SECONDS`.
    pub timeout_seconds: Option<f64>,
}

/// The variable the script reads the API key from.
pub(crate) const API_KEY_VAR: &str = "CE_API_KEY";
/// The variable the script reads a proxy's `USER:PASSWORD` from.
pub(crate) const PROXY_USER_VAR: &str = "CE_PROXY_USER";
/// The here-document terminator of the body.
const BODY_END: &str = "CE_CRYPT_BODY";

/// The script, ending with a newline.
pub(crate) fn curl_script(upload: &Upload<'_>, options: &CurlOptions) -> String {
    let proxy = if upload.endpoint.is_https() {
        &options.proxy
    } else {
        &CurlProxy::Direct
    };
    let proxy_user = matches!(
        proxy,
        CurlProxy::Url {
            credentials: true,
            ..
        }
    );
    let mut script = String::from("#!/bin/sh\n");
    script.push_str("# Made by ce-crypt send --dry-run: the same request, with curl.\n");
    script.push_str(&format!(
        "# The API key is read from {API_KEY_VAR} when this runs: the script holds no secret.\n"
    ));
    if proxy_user {
        script.push_str(&format!(
            "# The proxy asks for credentials: set {PROXY_USER_VAR} to USER:PASSWORD, \
             which curl is given with --proxy-user.\n"
        ));
    }
    script.push_str(&format!(
        ": \"${{{API_KEY_VAR}:?set {API_KEY_VAR} to the API key of the panel}}\"\n"
    ));
    if proxy_user {
        script.push_str(&format!(
            ": \"${{{PROXY_USER_VAR}:?set {PROXY_USER_VAR} to USER:PASSWORD for the proxy}}\"\n"
        ));
    }

    let mut headers = vec!["printf '%s\\n'".to_owned()];
    for (name, value) in header_lines(upload, "") {
        if name == "Authorization" {
            headers.push(format!("\"{name}: Bearer ${{{API_KEY_VAR}}}\""));
        } else {
            headers.push(shell_quote(&format!("{name}: {value}")));
        }
    }
    script.push_str(&headers.join(" \\\n  "));
    script.push_str(" |\n");

    let scheme = if upload.endpoint.is_https() {
        "=https"
    } else {
        "=http"
    };
    let mut args = vec![
        "curl -sS --fail-with-body --globoff --path-as-is".to_owned(),
        format!("--proto {} -X POST", shell_quote(scheme)),
    ];
    if let Some(seconds) = options.timeout_seconds {
        args.push(format!("--max-time {}", shell_quote(&seconds.to_string())));
    }
    for file in &options.ca_files {
        args.push(format!("--cacert {}", shell_quote(file)));
    }
    match proxy {
        CurlProxy::Environment => {}
        CurlProxy::Direct => args.push("--noproxy '*'".to_owned()),
        CurlProxy::Url { url, credentials } => {
            args.push(format!("--proxy {}", shell_quote(url)));
            if *credentials {
                args.push(format!("--proxy-user \"${PROXY_USER_VAR}\""));
            }
        }
    }
    args.push("-H @- --data-binary @/dev/fd/3".to_owned());
    args.push(format!("--url {}", shell_quote(upload.endpoint.as_str())));
    args.push(format!("3<<'{BODY_END}'"));
    script.push_str(&args.join(" \\\n  "));
    script.push('\n');
    script.push_str(upload.body);
    script.push('\n');
    script.push_str(BODY_END);
    script.push('\n');
    script
}

/// `text` single-quoted for any POSIX shell: `'` becomes `'\''`.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;
    use crate::upload::Endpoint;

    fn script_for(asset_id: &str, endpoint: &Endpoint, options: &CurlOptions) -> String {
        let upload = Upload {
            endpoint,
            method: Method::CbcHex,
            asset_id,
            body: r#"{"encryptedRequest":"00ff"}"#,
        };
        curl_script(&upload, options)
    }

    #[test]
    fn values_are_single_quoted_and_the_key_is_left_to_the_shell() {
        let script = script_for("it's$HOME", &Endpoint::default(), &CurlOptions::default());
        assert!(script.starts_with("#!/bin/sh\n"), "{script}");
        assert!(
            script.contains("  'x-asset: it'\\''s$HOME' \\\n"),
            "{script}"
        );
        assert!(script.contains("  'x-eCode: 11257' \\\n"), "{script}");
        assert!(
            script.contains("  \"Authorization: Bearer ${CE_API_KEY}\" |\n"),
            "{script}"
        );
        assert!(
            script.contains("--url 'https://api2.netcoresmartech.com/v1/activity/upload'"),
            "{script}"
        );
        assert!(
            script
                .ends_with("3<<'CE_CRYPT_BODY'\n{\"encryptedRequest\":\"00ff\"}\nCE_CRYPT_BODY\n"),
            "{script}"
        );
        // Nothing but the values carries a quote: comments and messages hold none.
        assert_plain_words(&script);
    }

    /// Comments and the messages of `${VAR:?message}` hold no quote, `$`,
    /// backslash or backtick: under bash, a stray `'` there opened a quote.
    fn assert_plain_words(script: &str) {
        for line in script.lines() {
            let words = if let Some(comment) = line.strip_prefix('#') {
                comment
            } else if let Some((_, message)) = line.split_once(":?") {
                message.trim_end_matches("}\"")
            } else {
                continue;
            };
            assert!(!words.contains(['\'', '"', '`', '\\', '$']), "{line:?}");
        }
    }

    #[test]
    fn plain_http_is_direct_and_proxy_credentials_are_never_written() {
        let local = Endpoint::parse("http://127.0.0.1:9/x").unwrap();
        let through = CurlOptions {
            proxy: CurlProxy::Url {
                url: "http://127.0.0.1:3128".into(),
                credentials: true,
            },
            ..CurlOptions::default()
        };
        let script = script_for("A1", &local, &through);
        assert!(script.contains(" --noproxy '*' "), "{script}");
        assert!(!script.contains("--proxy"), "{script}");
        let script = script_for("A1", &local, &CurlOptions::default());
        assert!(script.contains(" --noproxy '*' "), "{script}");

        let script = script_for("A1", &Endpoint::default(), &through);
        assert!(
            script
                .contains("--proxy 'http://127.0.0.1:3128' \\\n  --proxy-user \"$CE_PROXY_USER\""),
            "{script}"
        );
        assert!(
            script.contains("set CE_PROXY_USER to USER:PASSWORD"),
            "{script}"
        );
        assert_plain_words(&script);
        let script = script_for("A1", &Endpoint::default(), &CurlOptions::default());
        assert!(!script.contains("proxy"), "{script}");
    }
}

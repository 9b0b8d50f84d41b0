//! How errors reach the user: one `error:` line (one per problem for event
//! checks), ending with advice on what to pass or change.
//!
//! The library says what is wrong in its own terms; this is the one place that
//! knows which flag, variable or file fixes it.

use std::error::Error;
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use ce_crypt::events::{EventErrors, Problem, Warnings};
use ce_crypt::keys::{ENCODING_VAR, IV_VAR, KEY_VAR, LengthHint};
use ce_crypt::lines::{LineKind, LinesError};
use ce_crypt::payload::WideEncoding;
use ce_crypt::pretty::PrettyError;
use ce_crypt::upload::bulk::{BulkError, JournalError, SourceError};
use ce_crypt::upload::{ClientError, ProxyError};
use ce_crypt::{
    DecryptError, EncryptError, EventCheckError, JsonError, JsonErrorKind, KeyError, LineError,
    NotARequestBody, TextEncoding, UploadError,
};

/// Where the key material came from: attached to key errors as context.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `--key` and `--iv`.
    Flags,
    /// `--key-file FILE`.
    File(PathBuf),
    /// `CE_SECRET_KEY` and `CE_SECRET_IV`.
    Environment,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Flags => f.write_str("--key/--iv"),
            KeySource::File(path) => write!(f, "the key file {}", path.display()),
            KeySource::Environment => write!(f, "{KEY_VAR}/{IV_VAR}"),
        }
    }
}

/// What the failing command was asked to do, where advice depends on it: each
/// command is told only what it can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// `encrypt` checking for JSON, which `--raw` skips.
    EncryptJson,
    /// `encrypt --check-events` (which `--raw` conflicts with).
    EncryptEvents,
    /// `encrypt --compact` (which `--raw` conflicts with).
    EncryptCompact,
    /// `decrypt --pretty`.
    DecryptPretty,
    /// `send`, which has no `--raw`.
    Send,
    /// `check`.
    Check,
    /// Anything else.
    Other,
}

/// A command that has said everything itself and only needs this exit
/// status (send's summary, say): not printed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("exit status {0}")]
pub struct ExitStatus(pub u8);

/// An input the user most likely meant another way: its message ends with
/// the flag that reads it as meant, instead of the usual advice.
#[derive(Debug, thiserror::Error)]
pub enum Misread {
    /// One payload per line (NDJSON), given without `--lines`.
    #[error("{message}; the input looks like one payload per line (NDJSON): pass --lines")]
    Lines {
        /// The JSON error, as it would have been reported.
        message: String,
    },
    /// A payload argument that is no JSON but the name of a file.
    #[error(
        "the payload {} is not JSON but the name of a file: to {verb} the file, pass -i {}",
        .path.display(), shell_quoted(.path)
    )]
    FileName {
        /// "encrypt", "check".
        verb: &'static str,
        /// The argument, as a path.
        path: PathBuf,
    },
}

/// `error`, told as [`Misread::Lines`] if it is a JSON syntax error and the
/// input (`start`, its first bytes) looks like one payload per line.
pub fn explain_json(error: anyhow::Error, start: &[u8]) -> anyhow::Error {
    let syntax = error.chain().any(|cause| {
        matches!(checked(cause), Some(Checked::Json(json)) if json.kind == JsonErrorKind::Syntax)
    });
    if syntax && ce_crypt::lines::looks_like_lines(start) {
        return Misread::Lines {
            message: format!("{error:#}"),
        }
        .into();
    }
    error
}

/// Refuses a payload argument that is no JSON but names an existing file:
/// `encrypt events.json` meant with `-i`. `verb` says what `-i` would do.
pub fn refuse_file_name(payload: &std::ffi::OsStr, verb: &'static str) -> anyhow::Result<()> {
    let path = std::path::Path::new(payload);
    let is_json = ce_crypt::payload::check_json(payload.as_encoded_bytes()).is_ok();
    if !is_json && path.is_file() {
        return Err(Misread::FileName {
            verb,
            path: path.to_owned(),
        }
        .into());
    }
    Ok(())
}

/// Prints the error on standard error.
pub fn report(error: &anyhow::Error, doing: Doing) {
    if let Some(events) = event_errors(error) {
        let line = error
            .chain()
            .find_map(|cause| match cause.downcast_ref::<LinesError>() {
                Some(LinesError::Line { line, .. }) => Some(*line),
                _ => None,
            });
        problems(line, &events.problems);
        let mut warnings = Warnings::default();
        warnings.merge(events.warnings.clone(), line);
        warn(&warnings);
        return;
    }
    let message = format!("{error:#}").replace('\n', " ");
    let advice = advice(error, doing).unwrap_or_default();
    let _ = writeln!(io::stderr().lock(), "error: {message}{advice}");
}

/// Prints one `error:` line per problem, after `line N: ` when the payload was line N.
pub fn problems(line: Option<u64>, problems: &[Problem]) {
    let mut stderr = io::stderr().lock();
    let prefix = line.map(|n| format!("line {n}: ")).unwrap_or_default();
    for problem in problems {
        let _ = writeln!(stderr, "error: {prefix}{problem}");
    }
}

/// Prints one `warning:` line per rule that warned: its first match, and the count.
pub fn warn(warnings: &Warnings) {
    let mut stderr = io::stderr().lock();
    for tally in warnings.iter() {
        let prefix = tally
            .line
            .map(|n| format!("line {n}: "))
            .unwrap_or_default();
        let count = match tally.count {
            1 => "--strict makes this an error".to_owned(),
            n => format!("{n} like this in all; --strict makes them errors"),
        };
        let _ = writeln!(stderr, "warning: {prefix}{} ({count})", tally.first);
    }
}

/// A clap usage error, with a better tip where clap's is wrong: a value that
/// starts with `-` after an option (`--key -abc`) is read as flags, and clap
/// suggests `-- -a`, which passes no value to the option at all.
pub fn usage(mut error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() != ErrorKind::UnknownArgument {
        return error;
    }
    let Some(ContextValue::String(invalid)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let invalid = invalid.clone();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let option = args.windows(2).find_map(|pair| {
        let long = pair[0].strip_prefix("--")?;
        (!long.contains('=') && takes_value(long) && pair[1].starts_with(&invalid))
            .then(|| long.to_owned())
    });
    if let Some(long) = option {
        let tip =
            format!("to pass a value that starts with '-' to --{long}, write it as --{long}=VALUE");
        error.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
    }
    error
}

/// Whether some subcommand has an option `--long` that takes a value.
fn takes_value(long: &str) -> bool {
    use clap::CommandFactory;
    let command = super::args::Cli::command();
    command.get_subcommands().any(|sub| {
        sub.get_arguments()
            .any(|arg| arg.get_long() == Some(long) && arg.get_action().takes_values())
    })
}

/// `path` as a shell reads it back, for a command in advice to copy.
pub fn shell_quoted(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    shlex::try_quote(&text).map_or_else(|_| text.to_string(), |quoted| quoted.into_owned())
}

/// A reader of our output went away (`ce-crypt ... | head`): end quietly.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn event_errors(error: &anyhow::Error) -> Option<&EventErrors> {
    error.chain().find_map(|cause| match checked(cause) {
        Some(Checked::Events(events)) => Some(events),
        _ => None,
    })
}

/// The JSON check's or the event rules' verdict that a cause is, or carries.
enum Checked<'a> {
    Json(&'a JsonError),
    Events(&'a EventErrors),
}

/// What the checks found, wherever the error of a step that checks holds it.
fn checked<'a>(cause: &'a (dyn Error + 'static)) -> Option<Checked<'a>> {
    fn of(check: &EventCheckError) -> Checked<'_> {
        match check {
            EventCheckError::Json(json) => Checked::Json(json),
            EventCheckError::Events(events) => Checked::Events(events),
        }
    }
    if let Some(json) = cause.downcast_ref::<JsonError>() {
        Some(Checked::Json(json))
    } else if let Some(events) = cause.downcast_ref::<EventErrors>() {
        Some(Checked::Events(events))
    } else if let Some(check) = cause.downcast_ref::<EventCheckError>() {
        Some(of(check))
    } else if let Some(EncryptError::Check(check)) = cause.downcast_ref() {
        Some(of(check))
    } else if let Some(LineError::Check(check) | LineError::Encrypt(EncryptError::Check(check))) =
        cause.downcast_ref()
    {
        Some(of(check))
    } else if let Some(PrettyError::Json(json)) = cause.downcast_ref() {
        Some(Checked::Json(json))
    } else if let Some(SourceError::Encoding(json)) = cause.downcast_ref() {
        Some(Checked::Json(json))
    } else if let Some(BulkError::Input(SourceError::Encoding(json))) = cause.downcast_ref() {
        Some(Checked::Json(json))
    } else {
        None
    }
}

/// The advice for the first cause in the chain that has some.
fn advice(error: &anyhow::Error, doing: Doing) -> Option<String> {
    // anyhow finds a context type wherever it was attached.
    let source = error.downcast_ref::<KeySource>();
    error
        .chain()
        .find_map(|cause| advice_for(cause, source, doing))
}

/// The advice for one cause, by its kind: each library error type is
/// matched once, and an error carried inside another (a line's decryption
/// error, say) by the same function as on its own.
fn advice_for(
    cause: &(dyn Error + 'static),
    source: Option<&KeySource>,
    doing: Doing,
) -> Option<String> {
    if let Some(checked) = checked(cause) {
        return match checked {
            Checked::Json(json) => json_advice(json.kind, doing).map(str::to_owned),
            Checked::Events(_) => None,
        };
    }
    if let Some(error) = cause.downcast_ref::<KeyError>() {
        return key_advice(error, source);
    }
    if let Some(error) = cause.downcast_ref::<DecryptError>() {
        return decrypt_advice(error);
    }
    if cause.downcast_ref::<NotARequestBody>().is_some() {
        return Some(NOT_A_BODY.to_owned());
    }
    if let Some(error) = cause.downcast_ref::<LineError>() {
        return line_advice(error, doing);
    }
    if let Some(PrettyError::TooDeep { .. }) = cause.downcast_ref::<PrettyError>() {
        return Some("; drop --pretty to see the exact bytes".to_owned());
    }
    if let Some(error) = cause.downcast_ref::<UploadError>() {
        return upload_advice(error);
    }
    if let Some(ProxyError::PlainHttpEndpoint { .. }) = cause.downcast_ref() {
        return Some("; drop --proxy, or use an https:// endpoint".to_owned());
    }
    if let Some(ClientError::NoAuthority { .. }) = cause.downcast_ref() {
        return Some(
            "; pass --cacert FILE (or set CE_CA_FILE) with the certificate of the CA that \
             issued the server's"
                .to_owned(),
        );
    }
    if let Some(error) = cause.downcast_ref::<BulkError>() {
        return bulk_advice(error);
    }
    if let Some(error) = cause.downcast_ref::<SourceError>() {
        return source_advice(error);
    }
    None
}

/// What to pass for key material that is wrong, by where it came from.
fn key_advice(error: &KeyError, source: Option<&KeySource>) -> Option<String> {
    match error {
        KeyError::MissingIv(_) => Some(match source {
            Some(KeySource::File(_)) => format!("; add a {IV_VAR}= line to the key file"),
            Some(KeySource::Environment) => format!("; set {IV_VAR} as well"),
            Some(KeySource::Flags) | None => "; pass --iv with --key".to_owned(),
        }),
        KeyError::Swapped => Some(match source {
            Some(KeySource::File(_)) => {
                format!("; swap the values of {KEY_VAR} and {IV_VAR} in the key file")
            }
            Some(KeySource::Environment) => {
                format!("; swap the values of {KEY_VAR} and {IV_VAR}")
            }
            Some(KeySource::Flags) | None => "; swap the values of --key and --iv".to_owned(),
        }),
        KeyError::WrongLength {
            hint: Some(LengthHint::LooksEncoded),
            ..
        } => Some("; name the encoding with --key-encoding".to_owned()),
        KeyError::NotDecodable { .. } => Some(format!(
            "; check --key-encoding (or {ENCODING_VAR} in the key file)"
        )),
        _ => None,
    }
}

/// A ciphertext of another method, or no ciphertext at all.
fn decrypt_advice(error: &DecryptError) -> Option<String> {
    match error {
        DecryptError::NotWholeBlocks { .. } => Some(" (check --method)".to_owned()),
        DecryptError::Empty => {
            Some(": pass the Base64 or hex text that encrypt printed".to_owned())
        }
        DecryptError::InvalidCharacter {
            encoding: TextEncoding::Hex,
            hint,
            ..
        } if hint.contains("Base64") => Some("; choose the method with --method".to_owned()),
        _ => None,
    }
}

/// A request body that is none.
const NOT_A_BODY: &str = "; pass the ciphertext itself";

fn line_advice(error: &LineError, doing: Doing) -> Option<String> {
    match error {
        LineError::Decrypt(error) => decrypt_advice(error),
        LineError::NotARequestBody(_) => Some(NOT_A_BODY.to_owned()),
        LineError::NewlineInPlaintext => Some("; decrypt it without --lines".to_owned()),
        LineError::Wrapped { .. } => {
            Some("; if it is one ciphertext, decrypt it without --lines".to_owned())
        }
        LineError::PrettyPrinted(_) => Some(
            match doing {
                Doing::Check => "; nothing was checked: to check it as one payload, drop --lines",
                Doing::Send => "; nothing was sent: to send it as one payload, drop --lines",
                _ => "; nothing was written: to encrypt it as one payload, drop --lines",
            }
            .to_owned(),
        ),
        LineError::TooLong {
            kind: LineKind::Payload,
            ..
        } => Some("; split its events over several lines".to_owned()),
        _ => None,
    }
}

fn upload_advice(error: &UploadError) -> Option<String> {
    match error {
        UploadError::Timeout { .. } => Some("; check the network or raise --timeout".to_owned()),
        UploadError::Certificate { .. } => Some(
            "; if a company proxy or a private CA signs it, pass --cacert FILE (or set \
             CE_CA_FILE) with that CA's certificate"
                .to_owned(),
        ),
        UploadError::Connection { proxy: Some(_), .. } => {
            Some("; check the proxy, or pass --no-proxy to connect directly".to_owned())
        }
        UploadError::ProxyRefused {
            status: Some(407), ..
        } => Some(
            "; give the user name and password in the proxy URL \
             (http://USER:PASSWORD@HOST:PORT), or pass --no-proxy to connect directly"
                .to_owned(),
        ),
        UploadError::ProxyRefused { .. } => Some(
            "; check that the proxy may reach this host (nothing was sent), or pass \
             --no-proxy to connect directly"
                .to_owned(),
        ),
        _ => None,
    }
}

fn bulk_advice(error: &BulkError) -> Option<String> {
    match error {
        BulkError::Input(error) => source_advice(error),
        BulkError::InputChanged { .. } => Some(
            "; put the original input back to finish it, pass --restart to send this input \
             from the start (what was sent arrives twice), or --journal NEW to send it as \
             a separate delivery"
                .to_owned(),
        ),
        BulkError::StreamChanged { .. } => Some(
            "; send the same input again to finish it, --restart to send this one from the \
             start, or --journal NEW for a separate record"
                .to_owned(),
        ),
        BulkError::FormatChanged { .. } => {
            Some("; add or drop --lines as the first run had it, or pass --restart".to_owned())
        }
        BulkError::OtherDelivery { .. } => Some(
            "; give this delivery its own --journal FILE (or drop --journal to use the \
             state folder)"
                .to_owned(),
        ),
        BulkError::NoStateFolder => Some("; pass --journal FILE".to_owned()),
        BulkError::StateFolder { .. } => Some(
            "; fix its permissions, set XDG_STATE_HOME to another folder, or pass --journal \
             FILE"
                .to_owned(),
        ),
        BulkError::Journal(JournalError::Busy { .. }) => {
            Some("; wait for that run to end (nothing was sent)".to_owned())
        }
        BulkError::Journal(JournalError::Io { .. }) => {
            Some("; give another with --journal FILE".to_owned())
        }
        BulkError::Journal(_) => {
            Some("; move it away, or give another with --journal FILE".to_owned())
        }
        BulkError::NotRejectsFile(_) => Some(": give another with --rejects FILE".to_owned()),
        _ => None,
    }
}

fn source_advice(error: &SourceError) -> Option<String> {
    match error {
        SourceError::StartsWithObject => Some(
            "; pass --lines if it holds one event per line (NDJSON), or wrap a single event \
             in [ ] (nothing was sent)"
                .to_owned(),
        ),
        SourceError::LooksPrettyPrinted { .. } => {
            Some("; drop --lines to send it as one JSON array (nothing was sent)".to_owned())
        }
        SourceError::TooLong { .. } => Some("; split it into smaller events".to_owned()),
        SourceError::Malformed { .. } => {
            Some("; nothing was sent: fix the input and run again".to_owned())
        }
        _ => None,
    }
}

/// What each command can do about a payload that is not JSON the API can read.
fn json_advice(kind: JsonErrorKind, doing: Doing) -> Option<&'static str> {
    if let JsonErrorKind::Encoding(encoding) = kind {
        return Some(match encoding {
            WideEncoding::Utf16Le => " (e.g. iconv -f UTF-16LE -t UTF-8 FILE)",
            WideEncoding::Utf16Be => " (e.g. iconv -f UTF-16BE -t UTF-8 FILE)",
            WideEncoding::Utf32Le => " (e.g. iconv -f UTF-32LE -t UTF-8 FILE)",
            WideEncoding::Utf32Be => " (e.g. iconv -f UTF-32BE -t UTF-8 FILE)",
        });
    }
    if doing == Doing::DecryptPretty {
        return Some(" (--pretty needs a JSON plaintext; drop it to see the exact bytes)");
    }
    // --raw would send a BOM or a lone surrogate on to the API's parser: not advice.
    if !matches!(kind, JsonErrorKind::Syntax | JsonErrorKind::Utf8) {
        return None;
    }
    match doing {
        Doing::EncryptJson => Some(" (pass --raw to encrypt any bytes)"),
        Doing::EncryptEvents => Some(
            " (--check-events needs a JSON array of events; without it, --raw encrypts any bytes)",
        ),
        Doing::EncryptCompact => {
            Some(" (--compact needs JSON; without it, --raw encrypts any bytes)")
        }
        Doing::Send => {
            Some("; the upload API takes only JSON, so send has no --raw: fix the payload")
        }
        Doing::DecryptPretty | Doing::Check | Doing::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(error: anyhow::Error, doing: Doing) -> String {
        format!("{error:#}{}", advice(&error, doing).unwrap_or_default())
    }

    #[test]
    fn missing_iv_advice_names_the_source() {
        let missing = || KeyError::MissingIv(ce_crypt::Method::CbcHex);
        let from_file = anyhow::Error::new(missing()).context(KeySource::File("k.env".into()));
        assert_eq!(
            line(from_file, Doing::Other),
            "the key file k.env: cbc-hex needs the account's 16-byte IV, and none was given; \
             add a CE_SECRET_IV= line to the key file"
        );
        let from_env = anyhow::Error::new(missing()).context(KeySource::Environment);
        assert!(line(from_env, Doing::Other).ends_with("; set CE_SECRET_IV as well"));
        let from_flags = anyhow::Error::new(missing()).context(KeySource::Flags);
        assert!(line(from_flags, Doing::Other).ends_with("; pass --iv with --key"));
    }

    #[test]
    fn raw_is_suggested_only_where_it_exists() {
        let json = |payload: &[u8]| {
            let error = ce_crypt::payload::check_json(payload).unwrap_err();
            // Behind two transparent wrappers, as `Cipher::encrypt_payload_to` returns it.
            anyhow::Error::new(EncryptError::Check(EventCheckError::Json(error)))
        };
        assert!(
            line(json(b"["), Doing::EncryptJson).ends_with("(pass --raw to encrypt any bytes)")
        );
        for doing in [Doing::Other, Doing::Check] {
            assert!(!line(json(b"["), doing).contains("--"), "{doing:?}");
        }
        // Where --raw conflicts with the flag in use, or does not exist, the advice says so.
        let events = line(json(b"["), Doing::EncryptEvents);
        assert!(
            events.ends_with("without it, --raw encrypts any bytes)"),
            "{events}"
        );
        let compact = line(json(b"["), Doing::EncryptCompact);
        assert!(compact.ends_with("(--compact needs JSON; without it, --raw encrypts any bytes)"));
        let send = line(json(b"["), Doing::Send);
        assert!(
            send.ends_with("so send has no --raw: fix the payload"),
            "{send}"
        );
        let pretty = line(json(b"["), Doing::DecryptPretty);
        assert!(
            pretty.ends_with("(--pretty needs a JSON plaintext; drop it to see the exact bytes)")
        );
        // A BOM or a lone surrogate would reach the API's parser under --raw: never suggested.
        for payload in [&b"\xEF\xBB\xBF[1]"[..], br#"["\udc00"]"#] {
            for doing in [Doing::EncryptJson, Doing::EncryptEvents, Doing::Send] {
                let text = line(json(payload), doing);
                assert!(!text.contains("--raw"), "{doing:?}: {text}");
            }
        }
        let utf16 = line(json(b"[\x001\x00]\x00"), Doing::EncryptJson);
        assert!(
            utf16.contains("is UTF-16 (little-endian)")
                && utf16.ends_with("(e.g. iconv -f UTF-16LE -t UTF-8 FILE)"),
            "{utf16}"
        );
    }

    #[test]
    fn advice_is_found_by_kind_wherever_the_error_is_carried() {
        let tail = |error: anyhow::Error| advice(&error, Doing::Other).unwrap_or_default();
        let blocks = || DecryptError::NotWholeBlocks { len: 17 };
        let method = " (check --method)";
        assert_eq!(tail(blocks().into()), method);
        assert_eq!(tail(LineError::Decrypt(blocks()).into()), method);
        let line = LinesError::Line {
            line: 3,
            cause: LineError::Decrypt(blocks()),
        };
        assert_eq!(tail(anyhow::Error::new(line).context("decrypting")), method);
        // Wrong keys and changed ciphertexts are not told apart, nor advised on.
        assert_eq!(tail(DecryptError::BadPadding.into()), "");

        let body = "; pass the ciphertext itself";
        assert_eq!(tail(NotARequestBody.into()), body);
        assert_eq!(
            tail(LineError::NotARequestBody(NotARequestBody).into()),
            body
        );

        let object = || SourceError::StartsWithObject;
        assert!(tail(object().into()).starts_with("; pass --lines if it holds one event"));
        assert_eq!(
            tail(BulkError::Input(object()).into()),
            tail(object().into())
        );
        let utf16 = ce_crypt::payload::check_json(b"[\x001\x00]\x00").unwrap_err();
        assert_eq!(
            tail(BulkError::Input(SourceError::Encoding(utf16)).into()),
            " (e.g. iconv -f UTF-16LE -t UTF-8 FILE)"
        );

        let untrusted = ClientError::NoAuthority {
            name: "ca.pem".to_owned(),
            count: 1,
        };
        assert!(tail(untrusted.into()).ends_with("of the CA that issued the server's"));
        let timeout = UploadError::Timeout {
            endpoint: "https://example.invalid/".to_owned(),
            seconds: 30.0,
        };
        assert_eq!(
            tail(timeout.into()),
            "; check the network or raise --timeout"
        );
        let swapped = anyhow::Error::new(KeyError::Swapped).context(KeySource::Environment);
        assert_eq!(
            tail(swapped),
            "; swap the values of CE_SECRET_KEY and CE_SECRET_IV"
        );
    }

    #[test]
    fn broken_pipes_are_found_anywhere_in_the_chain() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        let wrapped = anyhow::Error::new(LinesError::Write(pipe)).context("writing");
        assert!(is_broken_pipe(&wrapped));
        let other = anyhow::Error::new(LinesError::Write(io::Error::other("full")));
        assert!(!is_broken_pipe(&other));
    }
}

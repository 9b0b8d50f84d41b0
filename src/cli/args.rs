//! Command-line arguments: clap definitions only, documented where declared.
//!
//! The same definitions produce `--help`, the man page and shell completions.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

use ce_crypt::Method;
use ce_crypt::upload::Region;

/// The ENVIRONMENT section shared by the commands that read keys.
macro_rules! environment {
    () => {
        "\
ENVIRONMENT:
  CE_SECRET_KEY    the 32-byte key, if no --key, --key-file or profile gives it
  CE_SECRET_IV     the 16-byte IV (CBC methods), read with CE_SECRET_KEY
  CE_KEY_ENCODING  utf8 (default), base64 or hex: how the two above map to bytes
  CE_PROFILE       a profile name, as --profile NAME
  CE_API_KEY       the panel's API key, for `ce-crypt send`
  CE_ASSET_ID, CE_REGION, CE_ENDPOINT, CE_CA_FILE
                   as --asset, --region, --endpoint and --cacert
  HTTPS_PROXY, ALL_PROXY, NO_PROXY
                   the proxy for `send`, as curl reads them
  XDG_CONFIG_HOME, HOME
                   where profiles live: $XDG_CONFIG_HOME/ce-crypt/NAME.env,
                   else ~/.config/ce-crypt/NAME.env"
    };
}

/// Encrypt event payloads for Netcore Customer Engagement.
///
/// Generates the key and IV to share with Netcore, encrypts payloads with
/// AES-256 exactly as Netcore's reference scripts do, decrypts them again, and
/// sends them to the activity upload API.
#[derive(Debug, Parser)]
#[command(name = "ce-crypt", version, propagate_version = true)]
#[command(after_help = concat!("\
EXAMPLES:
  ce-crypt keygen -o ce.env                    # new key and IV, file mode 0600
  ce-crypt encrypt --key-file ce.env -i events.json
  ce-crypt decrypt --key-file ce.env -i events.enc

", environment!()))]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a new secret key and IV to share with Netcore.
    #[command(after_help = "\
EXAMPLES:
  ce-crypt keygen                 # print CE_SECRET_KEY=... and CE_SECRET_IV=...
  ce-crypt keygen -o ce.env       # write them to a new file, mode 0600
  ce-crypt keygen --profile shop  # to ~/.config/ce-crypt/shop.env
  ce-crypt keygen --format json
  ce-crypt keygen --key-encoding base64 -o ce.env  # random bytes, in Base64

Share both values with Netcore over a secure channel, and keep them secret.

ENVIRONMENT:
  XDG_CONFIG_HOME, HOME
                   --profile NAME writes $XDG_CONFIG_HOME/ce-crypt/NAME.env
                   (~/.config/ce-crypt/NAME.env without it)

keygen reads no other variable. What it writes names CE_SECRET_KEY and
CE_SECRET_IV (and CE_KEY_ENCODING, unless utf8), which encrypt, decrypt and
send read; a profile may also hold CE_API_KEY, CE_ASSET_ID, CE_REGION and
CE_ENDPOINT lines for send.
")]
    Keygen(KeygenArgs),

    /// Encrypt a payload (a JSON array of events) for the upload API.
    #[command(after_help = concat!("\
EXAMPLES:
  ce-crypt encrypt --key-file ce.env -i events.json
  ce-crypt encrypt --key-file ce.env '[{\"activity_name\":\"Page Browse\"}]'
  cat events.json | ce-crypt encrypt --key-file ce.env --verify -o events.enc
  ce-crypt encrypt --key-file ce.env --method gcm-base64 -i events.json
  ce-crypt encrypt --key-file ce.env --lines -i one-payload-per-line.jsonl
  ce-crypt encrypt --key-file ce.env --compact --request -i events.json

MEMORY:
  A file of 1 MiB or more given with -i is streamed: a few MiB of memory
  whatever its size. It is read twice, once for the JSON check and once to
  encrypt; with -o FILE the two run at once on two cores and FILE is only
  written if the check passes. Standard input cannot be read twice and
  nothing may be written before the check passes, so it is held in memory
  whole, as are payloads given with --check-events, --compact or --verify.

", environment!()))]
    Encrypt(EncryptArgs),

    /// Decrypt a ciphertext back to the exact payload bytes.
    #[command(after_help = concat!("\
EXAMPLES:
  ce-crypt decrypt --key-file ce.env -i events.enc
  ce-crypt decrypt --key-file ce.env 'kX3Z...=='
  ce-crypt decrypt --key-file ce.env --pretty -i events.enc  # indented to read
  ce-crypt decrypt --key-file ce.env --lines -i many.enc -o many.jsonl

MEMORY:
  A file of 1 MiB or more given with -i is streamed: a few MiB of memory
  whatever its size. No plaintext is released before the padding (CBC) or
  the tag (GCM) has checked out: with -o FILE, FILE is only written then;
  to standard output, a first pass checks and a second one writes. Standard
  input, request bodies and --pretty are held in memory whole.

", environment!()))]
    Decrypt(DecryptArgs),

    /// Check a payload's events against the API's rules; send nothing.
    #[command(after_help = "\
EXAMPLES:
  ce-crypt check -i events.json             # every problem, with its place
  ce-crypt check --lines -i payloads.jsonl  # one payload per line, each checked
  ce-crypt check --strict --asset ADGMOT35... -i events.json
  ce-crypt check --rules                    # the rules and their documentation

check exits 0 when no rule reports an error. It reads no key and no
environment variable: it only judges the events.
")]
    Check(CheckArgs),

    /// Check, encrypt and POST events to the activity upload API: any number, in batches, resumable.
    #[command(after_help = concat!("\
EXAMPLES:
  ce-crypt send --key-file ce.env -i events.json  # CE_API_KEY: the panel's key
  ce-crypt send --profile prod --lines -i export.ndjson  # rerun to resume
  zcat export.ndjson.gz |
    ce-crypt send --profile prod --lines --journal export.ce-send
  ce-crypt send --key-file ce.env --asset ADGMOT35... -i events.json
  ce-crypt send --key-file ce.env --dry-run -i events.json  # a curl script
  ce-crypt send --profile prod --region in -i events.json
  ce-crypt send --profile prod --api-key-file api.key -i events.json
  ce-crypt send --profile prod --lines -i export.ndjson --status  # its progress

STATE:
  A file's delivery (the file, the endpoint and the asset) has a journal in
  $XDG_STATE_HOME/ce-crypt/deliveries/ (~/.local/state/ce-crypt/...), with its
  rejects file beside it: counts and fingerprints, never keys; the rejects
  file holds the rejected events themselves. Nothing is written beside the
  input. The same command resumes; a finished delivery sends nothing again.
  Standard input is not resumable unless --journal names a journal.

", environment!()))]
    Send(Box<SendArgs>),

    /// Print a shell completion script.
    #[command(after_help = concat!("\
EXAMPLES:
  ce-crypt completions zsh > ~/.zfunc/_ce-crypt        # with fpath+=~/.zfunc
  ce-crypt completions fish > ~/.config/fish/completions/ce-crypt.fish
  cd ~/.local/share/bash-completion/completions  # bash-completion's folder
  ce-crypt completions bash > ce-crypt

", environment!()))]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the man page (roff).
    #[command(after_help = concat!("\
EXAMPLES:
  ce-crypt man > ce-crypt.1 && man ./ce-crypt.1
  ce-crypt man | sudo tee /usr/local/share/man/man1/ce-crypt.1 >/dev/null

", environment!()))]
    Man,

    /// List the encryption methods Netcore accepts, with their API codes.
    #[command(after_help = concat!("\
EXAMPLES:
  ce-crypt methods
  ce-crypt encrypt --method 11257 ...   # any name, alias or code of the table

", environment!()))]
    Methods,
}

/// Output format of `keygen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeygenFormat {
    /// `CE_SECRET_KEY=...` and `CE_SECRET_IV=...` lines (a key file).
    Env,
    /// `{"secret_key": ..., "secret_iv": ...}`.
    Json,
}

/// How key strings map to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyEncodingArg {
    /// The string's UTF-8 bytes, as Netcore's scripts do (32 and 16 characters).
    Utf8,
    /// Standard Base64 of 32 and 16 bytes.
    Base64,
    /// Hexadecimal of 32 and 16 bytes.
    Hex,
}

/// Arguments of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = KeygenFormat::Env)]
    pub format: KeygenFormat,

    /// Write to FILE (created with mode 0600) instead of standard output (not with --profile).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Write the key file of profile NAME, $XDG_CONFIG_HOME/ce-crypt/NAME.env (~/.config/...), outside any repository (not with --output).
    #[arg(long, value_name = "NAME", conflicts_with = "output")]
    pub profile: Option<String>,

    /// Replace the file if it exists (keygen never overwrites keys otherwise).
    #[arg(long)]
    pub force: bool,

    /// utf8: 32+16 characters of [A-Za-z0-9], as Netcore's script; base64/hex: random bytes.
    #[arg(long, value_enum, default_value_t = KeyEncodingArg::Utf8)]
    pub key_encoding: KeyEncodingArg,
}

/// Where the key and IV come from (first match wins: flags, key file, environment).
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// The secret key (prefer --key-file or CE_SECRET_KEY: flags show in `ps` and shell history; write --key=VALUE for a key starting with `-`; not with --key-file or --profile).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,

    /// The secret IV (CBC methods only; GCM draws a nonce per message; not with --key-file or --profile).
    #[arg(long, value_name = "IV", requires = "key")]
    pub iv: Option<String>,

    /// Read CE_SECRET_KEY, CE_SECRET_IV (and CE_KEY_ENCODING) from FILE, as keygen writes it (not with --key, --iv or --profile).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "iv"])]
    pub key_file: Option<PathBuf>,

    /// Use the key file of profile NAME: $XDG_CONFIG_HOME/ce-crypt/NAME.env (~/.config/...); not with --key, --iv or --key-file [env: CE_PROFILE].
    #[arg(long, value_name = "NAME", conflicts_with_all = ["key", "iv", "key_file"])]
    pub profile: Option<String>,

    /// How --key/--iv and CE_SECRET_KEY/CE_SECRET_IV map to bytes [default: utf8].
    #[arg(long, value_enum)]
    pub key_encoding: Option<KeyEncodingArg>,
}

/// Where the input comes from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Read the input from FILE (`-` for standard input) instead of the argument.
    #[arg(short, long, value_name = "FILE", conflicts_with = "text")]
    pub input: Option<PathBuf>,
}

/// A payload to encrypt, its keys and the method: what `encrypt` and `send` share.
#[derive(Debug, Args)]
pub struct PayloadArgs {
    /// The payload; if absent, read from -i FILE or standard input.
    #[arg(value_name = "PAYLOAD")]
    pub text: Option<std::ffi::OsString>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Method: cbc-base64, cbc-hex, gcm-base64, or a Netcore name or code (sent as x-eCode).
    #[arg(short, long, value_name = "METHOD", default_value = "cbc-base64",
          value_parser = methods(), hide_possible_values = true)]
    pub method: Method,
}

/// Arguments of `encrypt`.
#[derive(Debug, Args)]
pub struct EncryptArgs {
    #[command(flatten)]
    pub payload: PayloadArgs,

    /// Write the ciphertext to FILE (replaced atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace FILE even if it is read-only.
    #[arg(long, requires = "output")]
    pub force: bool,

    /// Encrypt any bytes; skip the check that the payload is JSON (not with --check-events or --compact).
    #[arg(long)]
    pub raw: bool,

    /// Decrypt the result again and confirm it matches the payload, on stderr (not with --lines).
    #[arg(long, conflicts_with = "lines")]
    pub verify: bool,

    /// Each non-empty input line is one payload; print one ciphertext per line (not with --verify or --compact).
    #[arg(long)]
    pub lines: bool,

    /// Print the request body {"encryptedRequest":"..."} instead of the bare ciphertext.
    #[arg(long)]
    pub request: bool,

    /// Check the events (fields, types, timestamps) before encrypting; report every problem (not with --raw).
    #[arg(long, conflicts_with = "raw")]
    pub check_events: bool,

    /// With --check-events: refuse what the checks only warn about (see `ce-crypt check --rules`).
    #[arg(long, requires = "check_events")]
    pub strict: bool,

    /// Remove insignificant whitespace from the JSON first, values kept byte for byte (not with --raw or --lines).
    #[arg(long, conflicts_with_all = ["raw", "lines"])]
    pub compact: bool,
}

/// Arguments of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub payload: PayloadArgs,

    /// The asset id for x-asset [env: CE_ASSET_ID; default: the asset_id all events share].
    #[arg(long, value_name = "ID")]
    pub asset: Option<String>,

    /// Read the panel's API key from FILE instead of CE_API_KEY.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,

    /// Netcore data centre: us (api2...), in (apiin2...) or eu (apieu2...); not with --endpoint [env: CE_REGION; default: us].
    #[arg(long, value_name = "REGION", value_parser = regions(), hide_possible_values = true)]
    pub region: Option<Region>,

    /// Where to POST, instead of the region's endpoint (https://; http:// only to this machine); not with --region [env: CE_ENDPOINT].
    #[arg(long, value_name = "URL", conflicts_with = "region")]
    pub endpoint: Option<String>,

    /// Also trust the CA certificates in FILE (PEM), e.g. a company proxy's [env: CE_CA_FILE].
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Go through this proxy (http://, https://, socks5://HOST:PORT) instead of the one HTTPS_PROXY/ALL_PROXY name (not with --no-proxy).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Connect directly: ignore HTTPS_PROXY, ALL_PROXY and the like (not with --proxy).
    #[arg(long, conflicts_with = "proxy")]
    pub no_proxy: bool,

    /// Print the request (API key redacted), the answer's status and the time taken on standard error.
    #[arg(short, long)]
    pub verbose: bool,

    /// Give up when the whole request takes longer than SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0, value_parser = parse_timeout)]
    pub timeout: f64,

    /// Send nothing; print an equivalent sh script for curl ($CE_API_KEY stands for the key); one request's worth of events (not with --lines, --status).
    #[arg(long, conflicts_with = "lines")]
    pub dry_run: bool,

    /// The input is NDJSON: each non-empty line one event object, or an array of events (not with --dry-run).
    #[arg(long)]
    pub lines: bool,

    /// Events per request, 1 to 1000 (the API's limit).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = parse_batch_size)]
    pub batch_size: usize,

    /// Requests in flight at once, over reused connections (1 to 64).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub concurrency: u8,

    /// Start at most R requests per second (e.g. 2 or 0.5) [default: no limit].
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Retries per request after 429, 5xx, a timeout or a broken connection, with exponential backoff.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub retries: u32,

    /// Stop, sending nothing further, once more than N of the input's events failed the checks, in this run or earlier ones (a file is checked whole before the first request).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_rejects: u64,

    /// Record what the API acknowledged in FILE (mode 0600), so that a rerun resumes [default for a file: one journal per delivery in the state folder, see STATE below; standard input has none unless given].
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// Forget what the journal recorded and send every event again (not with --status).
    #[arg(long)]
    pub restart: bool,

    /// Send nothing: say what the journal of this delivery records (the same arguments as the send; not with --restart, --dry-run).
    #[arg(long, conflicts_with_all = ["restart", "dry_run"])]
    pub status: bool,

    /// Write rejected events there, one JSON line each, with the reasons, created only if something is rejected [default: beside the journal, .rejects.jsonl].
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,

    /// Write the final counts there as JSON (read, sent, rejected, pending, ...).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// No progress bar, no progress lines, no summary: only errors.
    #[arg(short, long)]
    pub quiet: bool,

    /// Skip the event checks; the payload must still be JSON (not with --strict).
    #[arg(long)]
    pub no_check: bool,

    /// Refuse what the event checks only warn about, see `ce-crypt check --rules` (not with --no-check).
    #[arg(long, conflicts_with = "no_check")]
    pub strict: bool,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The payload; if absent, read from -i FILE or standard input.
    #[arg(value_name = "PAYLOAD")]
    pub text: Option<std::ffi::OsString>,

    #[command(flatten)]
    pub input: InputArgs,

    /// Each non-empty input line is one payload (NDJSON); every line is checked (not with --rules).
    #[arg(long)]
    pub lines: bool,

    /// Report what the rules only warn about as errors: empty arrays, old or future timestamps (not with --rules).
    #[arg(long)]
    pub strict: bool,

    /// The asset the events will be sent to (x-asset): every asset_id must be this one (not with --rules).
    #[arg(long, value_name = "ID")]
    pub asset: Option<String>,

    /// Print the rules, each with the documented behaviour behind it, and exit (not with --lines, --strict, --asset).
    #[arg(long, conflicts_with_all = ["text", "lines", "strict", "asset"])]
    pub rules: bool,
}

/// A `FromStr` parser that also lists the values to complete (help lists them itself).
#[derive(Clone)]
struct Listed<T> {
    parse: fn(&str) -> Result<T, String>,
    values: Vec<&'static str>,
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Listed<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        // The same message as clap's own `FromStr` parser gives.
        let parse = self.parse;
        let inner = move |text: &str| parse(text);
        inner.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.values.iter().map(|&v| PossibleValue::new(v))))
    }
}

/// `--method`: the aliases first, then Netcore's names and codes.
fn methods() -> Listed<Method> {
    let codes = Method::ALL.map(|m| &*m.code().to_string().leak());
    let values = (Method::ALL.iter().map(|m| m.alias()))
        .chain(Method::ALL.iter().map(|m| m.name()))
        .chain(codes)
        .collect();
    Listed {
        parse: |text| text.parse::<Method>().map_err(|e| e.to_string()),
        values,
    }
}

/// `--region`.
fn regions() -> Listed<Region> {
    Listed {
        parse: |text| text.parse::<Region>().map_err(|e| e.to_string()),
        values: Region::ALL.iter().map(|r| r.name()).collect(),
    }
}

fn parse_batch_size(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=ce_crypt::events::MAX_EVENTS).contains(&n) => Ok(n),
        Ok(n) if n > ce_crypt::events::MAX_EVENTS => Err(format!(
            "the API takes at most {} events per request; give 1 to {}",
            ce_crypt::events::MAX_EVENTS,
            ce_crypt::events::MAX_EVENTS
        )),
        _ => Err(format!(
            "give a number of events from 1 to {}",
            ce_crypt::events::MAX_EVENTS
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.001..=10_000.0).contains(&rate) => Ok(rate),
        _ => Err("give requests per second from 0.001 to 10000, e.g. 2 or 0.5".into()),
    }
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err("give a number of seconds above 0 and at most 86400, e.g. 30 or 2.5".into()),
    }
}

/// Arguments of `decrypt`.
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// The ciphertext; if absent, read from -i FILE or standard input.
    #[arg(value_name = "CIPHERTEXT")]
    pub text: Option<std::ffi::OsString>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Decryption method: cbc-base64, cbc-hex, gcm-base64, or a Netcore name or code.
    #[arg(short, long, value_name = "METHOD", default_value = "cbc-base64",
          value_parser = methods(), hide_possible_values = true)]
    pub method: Method,

    /// Write the plaintext to FILE (replaced atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace FILE even if it is read-only.
    #[arg(long, requires = "output")]
    pub force: bool,

    /// Each non-empty input line is one ciphertext; print one plaintext per line (not with --pretty).
    #[arg(long)]
    pub lines: bool,

    /// Re-indent a JSON plaintext for reading; the default output is byte-exact (not with --lines).
    #[arg(long, conflicts_with = "lines")]
    pub pretty: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_flag_names_the_flags_it_conflicts_with_in_its_help() {
        let mut missing = Vec::new();
        for sub in Cli::command().get_subcommands_mut() {
            sub.build();
            for arg in sub.get_arguments() {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                // Both ways: each of the two flags' help names the other.
                for other in sub.get_arg_conflicts_with(arg) {
                    let other_help = other.get_help().map(|h| h.to_string()).unwrap_or_default();
                    let (Some(long), Some(other_long)) = (arg.get_long(), other.get_long()) else {
                        continue; // a positional: -i says "instead of the argument"
                    };
                    if !help.contains(&format!("--{other_long}")) {
                        missing.push(format!("{} --{long}: --{other_long}", sub.get_name()));
                    }
                    if !other_help.contains(&format!("--{long}")) {
                        missing.push(format!("{} --{other_long}: --{long}", sub.get_name()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "help does not name the conflict: {missing:#?}"
        );
    }
}

//! Finding the key and IV: `--key`/`--iv`, then `--key-file` or a profile
//! (`--profile NAME` or `CE_PROFILE`), then the environment; and reading
//! secrets from files and the environment, for keys and the API key alike.

use std::env;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ce_crypt::keys::{ENCODING_VAR, IV_VAR, KEY_VAR, KeyFile, parse_key_and_iv};
use ce_crypt::{Cipher, KeyEncoding, Method, SecretString};

use super::args::{KeyArgs, KeyEncodingArg};
use super::error::KeySource;
use super::secret_file;

impl From<KeyEncodingArg> for KeyEncoding {
    fn from(arg: KeyEncodingArg) -> Self {
        match arg {
            KeyEncodingArg::Utf8 => KeyEncoding::Utf8,
            KeyEncodingArg::Base64 => KeyEncoding::Base64,
            KeyEncodingArg::Hex => KeyEncoding::Hex,
        }
    }
}

/// Key and IV strings from one source.
struct Found {
    key: SecretString,
    iv: Option<SecretString>,
    encoding: KeyEncoding,
    source: KeySource,
}

/// Environment variable naming a profile, as `--profile` does.
const PROFILE_VAR: &str = "CE_PROFILE";

/// The cipher for `method`, with key material from the first source that has
/// a key: flags, then the key file or profile, then the environment.
pub fn resolve(args: KeyArgs, method: Method) -> Result<Cipher> {
    Ok(resolve_with_file(args, method)?.0)
}

/// Like [`resolve`], also handing back the key file or profile it read, whose
/// upload settings `send` uses.
pub fn resolve_with_file(args: KeyArgs, method: Method) -> Result<(Cipher, Option<KeyFile>)> {
    if args.iv.is_some() && !method.needs_iv() {
        // A configured IV (key file, environment) is expected to be ignored;
        // one typed on the command line may be a nonce or a wrong --method.
        eprintln!(
            "warning: --iv is ignored: {method} draws a fresh 12-byte nonce for every message \
             and carries it in the ciphertext, so it needs only the key (check --method if \
             you meant a CBC method)"
        );
    }
    let flag_encoding = args.key_encoding.map(KeyEncoding::from);
    let file_path = key_file_path(&args)?;
    let mut key_file = None;
    let found = if let Some(key) = args.key {
        Found {
            key: SecretString::new(key),
            iv: args.iv.map(SecretString::new),
            encoding: flag_encoding.unwrap_or_default(),
            source: KeySource::Flags,
        }
    } else if let Some(path) = file_path {
        let (found, file) = from_file(&path, flag_encoding)?;
        key_file = Some(file);
        found
    } else if let Some(key) = env_secret(KEY_VAR)? {
        let encoding = match (flag_encoding, env_secret(ENCODING_VAR)?) {
            (Some(flag), _) => flag,
            (None, Some(name)) => name
                .expose()
                .parse()
                .with_context(|| format!("{ENCODING_VAR} in the environment"))?,
            (None, None) => KeyEncoding::Utf8,
        };
        Found {
            key,
            iv: env_secret(IV_VAR)?,
            encoding,
            source: KeySource::Environment,
        }
    } else {
        bail!(
            "no key given: pass --key and --iv, or --key-file FILE (from `ce-crypt keygen -o FILE`), \
             or set {KEY_VAR} and {IV_VAR}"
        );
    };

    let source = || found.source.clone();
    // GCM draws a fresh nonce per message: a configured IV is not read.
    let (key, iv) = parse_key_and_iv(
        found.key.expose(),
        found.iv.as_ref().map(SecretString::expose),
        found.encoding,
        method.needs_iv(),
    )
    .with_context(source)?;
    let cipher = Cipher::new(method, key, iv).with_context(source)?;
    Ok((cipher, key_file))
}

/// The key file these arguments read, if any: `--key-file`, or the profile's file.
pub fn key_file_path(args: &KeyArgs) -> Result<Option<PathBuf>> {
    Ok(match (&args.key_file, &args.profile) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(name)) => Some(profile_path(name)?),
        (None, None) if args.key.is_none() => match env::var(PROFILE_VAR) {
            Ok(name) if !name.trim().is_empty() => Some(profile_path(&name)?),
            _ => None,
        },
        (None, None) => None,
    })
}

/// The key file of an existing profile.
fn profile_path(name: &str) -> Result<PathBuf> {
    let path = profile_location(name)?;
    if let Some(folder) = path.parent() {
        secret_file::check_profile_folder(folder)?;
    }
    if !path.exists() {
        bail!(
            "the profile {name} does not exist: create it with ce-crypt keygen {} \
             (then add CE_API_KEY=, CE_ASSET_ID=, CE_REGION= lines to {} as needed)",
            profile_arg(name),
            path.display()
        );
    }
    Ok(path)
}

/// Where profile NAME's key file lives, whether or not it exists:
/// `$XDG_CONFIG_HOME/ce-crypt/NAME.env`, or `~/.config/ce-crypt/NAME.env`.
/// NAME is letters, digits, `-` and `_`.
pub fn profile_location(name: &str) -> Result<PathBuf> {
    let plain = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !plain(name) {
        match name.strip_suffix(".env").filter(|stem| plain(stem)) {
            Some(stem) => bail!(
                "the profile name {name:?} is a file's name: give the profile's own name, {stem}"
            ),
            None => {
                bail!("the profile name {name:?} is not a plain name: use letters, digits, - and _")
            }
        }
    }
    let config = match env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                bail!("cannot find the profile {name}: neither XDG_CONFIG_HOME nor HOME is set")
            }
        },
    };
    Ok(config.join("ce-crypt").join(format!("{name}.env")))
}

/// `--profile NAME` as a command to copy: `--profile=NAME` for a name that
/// starts with `-`, which would otherwise be read as a flag.
pub fn profile_arg(name: &str) -> String {
    match name.starts_with('-') {
        true => format!("--profile={name}"),
        false => format!("--profile {name}"),
    }
}

/// An environment variable holding a secret, if it is set.
pub fn env_secret(name: &str) -> Result<Option<SecretString>> {
    match env::var(name) {
        Ok(value) => Ok(Some(SecretString::new(value))),
        Err(env::VarError::NotPresent) => Ok(None),
        Err(env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

/// A file holding secrets (`what` names it in messages), judged first: see
/// [`secret_file`].
pub fn read_secret_file(path: &Path, what: &'static str) -> Result<SecretString> {
    secret_file::read(path, what)
}

fn from_file(path: &Path, flag_encoding: Option<KeyEncoding>) -> Result<(Found, KeyFile)> {
    let text = read_secret_file(path, "key file")?;
    let file = KeyFile::parse(text.expose()).with_context(|| path.display().to_string())?;
    let encoding = match (file.encoding, flag_encoding) {
        (Some(from_file), Some(flag)) if from_file != flag => bail!(
            "the key file {} says {ENCODING_VAR}={from_file} but --key-encoding {flag} was given: drop one",
            path.display()
        ),
        (Some(encoding), _) | (None, Some(encoding)) => encoding,
        (None, None) => KeyEncoding::Utf8,
    };
    for (alias, ours) in &file.aliases {
        eprintln!(
            "note: the key file {} names {alias}, as Netcore's scripts do; read as {ours}",
            path.display()
        );
    }
    let Some(key) = file.key.clone() else {
        bail!(
            "the key file {} has no {KEY_VAR}= line (nor SECRET_KEY=, as Netcore's scripts \
             name it); create one with `ce-crypt keygen -o FILE`",
            path.display()
        );
    };
    let found = Found {
        key,
        iv: file.iv.clone(),
        encoding,
        source: KeySource::File(path.to_owned()),
    };
    Ok((found, file))
}

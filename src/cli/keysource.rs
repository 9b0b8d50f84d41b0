//! Finding the key and IV: `--key`/`--iv`, then `--key-file`, then the environment.

use std::env;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use ce_crypt::keys::{self, ENCODING_VAR, IV_VAR, KEY_VAR, KeyEncoding, KeyFile, KeyMaterial};
use ce_crypt::method::Method;
use ce_crypt::secret::SecretString;

use super::args::{KeyArgs, KeyEncodingArg};

impl From<KeyEncodingArg> for KeyEncoding {
    fn from(arg: KeyEncodingArg) -> Self {
        match arg {
            KeyEncodingArg::Utf8 => KeyEncoding::Utf8,
            KeyEncodingArg::Base64 => KeyEncoding::Base64,
            KeyEncodingArg::Hex => KeyEncoding::Hex,
        }
    }
}

/// Key and IV strings from one source, with where they came from.
struct Found {
    key: SecretString,
    iv: Option<SecretString>,
    encoding: KeyEncoding,
    /// Where they came from, to prefix a message about them.
    source: String,
    /// How to name the IV in a "missing" message.
    iv_hint: String,
}

/// Resolves the key material for `method`, first match wins.
pub fn resolve(args: KeyArgs, method: Method) -> Result<KeyMaterial> {
    let flag_encoding = args.key_encoding.map(KeyEncoding::from);
    let found = if let Some(key) = args.key {
        Found {
            key: SecretString::new(key),
            iv: args.iv.map(SecretString::new),
            encoding: flag_encoding.unwrap_or_default(),
            source: "--key/--iv".into(),
            iv_hint: "--key needs --iv".into(),
        }
    } else if let Some(path) = args.key_file {
        from_file(&path, flag_encoding)?
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
            source: format!("{KEY_VAR}/{IV_VAR}"),
            iv_hint: format!("{KEY_VAR} is set but {IV_VAR} is not"),
        }
    } else {
        bail!(
            "no key given: pass --key and --iv, or --key-file FILE (from `ce-crypt keygen -o FILE`), \
             or set {KEY_VAR} and {IV_VAR}"
        );
    };

    let source = || found.source.clone();
    let key = keys::parse_key(found.key.expose(), found.encoding).with_context(source)?;
    let iv = match (&found.iv, method.needs_iv()) {
        (Some(iv), true) => Some(keys::parse_iv(iv.expose(), found.encoding).with_context(source)?),
        (None, true) => bail!("{} ({method} needs the account's IV)", found.iv_hint),
        // GCM draws a fresh nonce per message: a configured IV is ignored, not required.
        (_, false) => None,
    };
    Ok(KeyMaterial { key, iv })
}

fn env_secret(name: &str) -> Result<Option<SecretString>> {
    match env::var(name) {
        Ok(value) => Ok(Some(SecretString::new(value))),
        Err(env::VarError::NotPresent) => Ok(None),
        Err(env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

fn from_file(path: &Path, flag_encoding: Option<KeyEncoding>) -> Result<Found> {
    let text = SecretString::new(
        fs::read_to_string(path)
            .with_context(|| format!("could not read the key file {}", path.display()))?,
    );
    warn_if_shared(path);
    let file = KeyFile::parse(text.expose()).with_context(|| path.display().to_string())?;
    let encoding = match (file.encoding, flag_encoding) {
        (Some(from_file), Some(flag)) if from_file != flag => bail!(
            "the key file {} says {ENCODING_VAR}={from_file} but --key-encoding {flag} was given: drop one",
            path.display()
        ),
        (Some(encoding), _) | (None, Some(encoding)) => encoding,
        (None, None) => KeyEncoding::Utf8,
    };
    let Some(key) = file.key else {
        bail!(
            "the key file {} has no {KEY_VAR}= line; create one with `ce-crypt keygen -o FILE`",
            path.display()
        );
    };
    Ok(Found {
        key,
        iv: file.iv,
        encoding,
        source: format!("the key file {}", path.display()),
        iv_hint: format!("the key file {} has no {IV_VAR}= line", path.display()),
    })
}

/// Warns, as ssh does, when a key file can be read by anyone but its owner.
#[cfg(unix)]
pub fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        eprintln!(
            "warning: the key file {} is accessible by group or others; run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
}

#[cfg(not(unix))]
pub fn warn_if_shared(_path: &Path) {}

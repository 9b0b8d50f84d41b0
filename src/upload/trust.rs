//! Which certificate authorities the client trusts: the operating system's
//! store (as OpenSSL finds it, `SSL_CERT_FILE`/`SSL_CERT_DIR` included), the
//! bundled Mozilla roots only where no store exists, and any extra CA given
//! by the caller (a company's TLS-inspecting proxy, a test CA).

use ureq::tls::{Certificate, PemItem, RootCerts};

/// An extra certificate authority, as PEM text.
#[derive(Debug, Clone)]
pub struct ExtraCa {
    /// Where it came from, for messages (a file name).
    pub name: String,
    /// The PEM text: one or more `CERTIFICATE` blocks.
    pub pem: Vec<u8>,
}

/// An extra CA that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
#[non_exhaustive]
pub struct TrustError {
    /// Where it came from.
    pub name: String,
}

/// What the client trusts, in numbers (for a verbose report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrustSummary {
    /// Certificates from the operating system's store.
    pub system: usize,
    /// Certificates from the bundled Mozilla roots (used only without a store).
    pub bundled: usize,
    /// Certificates from the extra CAs.
    pub extra: usize,
}

/// The root certificates for `extra` on top of the system store.
pub(crate) fn root_certs(extra: &[ExtraCa]) -> Result<(RootCerts, TrustSummary), TrustError> {
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let mut summary = TrustSummary::default();
    // Certificates the store cannot parse are skipped, as OpenSSL does.
    for cert in rustls_native_certs::load_native_certs().certs {
        certs.push(Certificate::from_der(cert.as_ref()).to_owned());
        summary.system += 1;
    }
    if certs.is_empty() {
        for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            certs.push(Certificate::from_der(cert.as_ref()).to_owned());
            summary.bundled += 1;
        }
    }
    for ca in extra {
        let found: Vec<Certificate<'static>> = ureq::tls::parse_pem(&ca.pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(cert)) => Some(cert.to_owned()),
                _ => None,
            })
            .collect();
        if found.is_empty() {
            return Err(TrustError {
                name: ca.name.clone(),
            });
        }
        summary.extra += found.len();
        certs.extend(found);
    }
    Ok((RootCerts::new_with_certs(&certs), summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused() {
        let not_pem = ExtraCa {
            name: "corp-ca.pem".into(),
            pem: b"hello".to_vec(),
        };
        let err = root_certs(&[not_pem]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corp-ca.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        );
    }

    #[test]
    fn some_roots_are_always_trusted() {
        let (_, summary) = root_certs(&[]).unwrap();
        assert!(summary.system + summary.bundled > 0, "{summary:?}");
        assert_eq!(summary.extra, 0);
    }
}

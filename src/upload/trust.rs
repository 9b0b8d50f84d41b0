//! Which certificate authorities the client trusts: the operating system's
//! store (as OpenSSL finds it, `SSL_CERT_FILE`/`SSL_CERT_DIR` included), the
//! bundled Mozilla roots only where no store exists, and any extra CA given
//! by the caller (a company's TLS-inspecting proxy, a test CA).
//!
//! From every source only certificates allowed to issue others are kept, as
//! OpenSSL judges a trust anchor ([`may_issue`]): webpki, the verifier,
//! would let any certificate in the store sign for any host, so a server's
//! own certificate in `/etc/ssl/certs` (Debian's `ssl-cert-snakeoil.pem`)
//! would otherwise make its key a CA. The rest are counted
//! ([`TrustSummary::dropped`]). A self-signed server certificate given as an
//! extra CA is not trusted either (curl accepts it as an exact match):
//! give the CA that issued it.

use ureq::tls::{Certificate, PemItem, RootCerts};
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate, X509Version};

/// An extra certificate authority, as PEM text.
#[derive(Debug, Clone)]
pub struct ExtraCa {
    /// Where it came from, for messages (a file name).
    pub name: String,
    /// The PEM text: one or more `CERTIFICATE` blocks.
    pub pem: Vec<u8>,
}

/// A client that cannot be built: an extra CA it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No certificate at all.
    #[error("{name} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// Where it came from.
        name: String,
    },
    /// Certificates, none of them allowed to issue others.
    #[error(
        "{name} holds no certificate authority: its {count} certificate(s) may not issue others \
         (a server certificate, or basicConstraints CA:FALSE), so none can vouch for a server"
    )]
    NoAuthority {
        /// Where it came from.
        name: String,
        /// How many certificates it holds.
        count: usize,
    },
}

/// What the client trusts, in numbers (for a verbose report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TrustSummary {
    /// Certificate authorities from the operating system's store.
    pub system: usize,
    /// Certificate authorities from the bundled Mozilla roots (used only without a store).
    pub bundled: usize,
    /// Certificate authorities from the extra CAs.
    pub extra: usize,
    /// Certificates of any source set aside: not allowed to issue others.
    pub dropped: usize,
}

/// The root certificates for `extra` on top of the system store.
pub(crate) fn root_certs(extra: &[ExtraCa]) -> Result<(RootCerts, TrustSummary), ClientError> {
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let mut summary = TrustSummary::default();
    // Certificates the store cannot parse are skipped, as OpenSSL does.
    let system = rustls_native_certs::load_native_certs().certs;
    let found_store = !system.is_empty();
    for cert in system {
        if may_issue(cert.as_ref()) {
            certs.push(Certificate::from_der(cert.as_ref()).to_owned());
            summary.system += 1;
        } else {
            summary.dropped += 1;
        }
    }
    if !found_store {
        for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            if may_issue(cert.as_ref()) {
                certs.push(Certificate::from_der(cert.as_ref()).to_owned());
                summary.bundled += 1;
            } else {
                summary.dropped += 1;
            }
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
            return Err(ClientError::NoCertificate {
                name: ca.name.clone(),
            });
        }
        let count = found.len();
        let authorities: Vec<_> = found
            .into_iter()
            .filter(|cert| may_issue(cert.der()))
            .collect();
        if authorities.is_empty() {
            return Err(ClientError::NoAuthority {
                name: ca.name.clone(),
                count,
            });
        }
        summary.dropped += count - authorities.len();
        summary.extra += authorities.len();
        certs.extend(authorities);
    }
    Ok((RootCerts::new_with_certs(&certs), summary))
}

/// Whether the DER certificate `der` may issue others, as OpenSSL's
/// `X509_check_ca` decides for a trust anchor: not when a key usage
/// extension lacks `keyCertSign`; else as basicConstraints says when it is
/// there; without it, yes for a self-signed version 1 root, for a key usage
/// with `keyCertSign`, or a Netscape CA type; no otherwise. A certificate
/// that cannot be read may not.
pub(crate) fn may_issue(der: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return false;
    };
    let key_usage = match cert.key_usage() {
        Ok(usage) => usage.map(|usage| usage.value.key_cert_sign()),
        Err(_) => return false,
    };
    if key_usage == Some(false) {
        return false;
    }
    match cert.basic_constraints() {
        Ok(Some(constraints)) => constraints.value.ca,
        Ok(None) => {
            let v1_root = cert.version() == X509Version::V1
                && cert.subject().as_raw() == cert.issuer().as_raw();
            let netscape_ca = cert.iter_extensions().any(|ext| {
                matches!(ext.parsed_extension(), ParsedExtension::NSCertType(kind)
                    if kind.ssl_ca() || kind.smime_ca() || kind.object_signing_ca())
            });
            v1_root || key_usage == Some(true) || netscape_ca
        }
        Err(_) => false,
    }
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

    fn cert(ca: rcgen::IsCa, usages: Vec<rcgen::KeyUsagePurpose>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(vec!["x.test".to_owned()]).unwrap();
        params.is_ca = ca;
        params.key_usages = usages;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn only_certificates_that_may_issue_are_anchors() {
        use rcgen::{BasicConstraints, IsCa, KeyUsagePurpose as Ku};
        let ca = IsCa::Ca(BasicConstraints::Unconstrained);
        assert!(may_issue(&cert(ca, vec![])));
        assert!(may_issue(&cert(ca, vec![Ku::KeyCertSign])));
        // A key usage without keyCertSign outranks basicConstraints, as in OpenSSL.
        assert!(!may_issue(&cert(ca, vec![Ku::DigitalSignature])));
        assert!(!may_issue(&cert(IsCa::ExplicitNoCa, vec![])));
        assert!(!may_issue(&cert(IsCa::ExplicitNoCa, vec![Ku::KeyCertSign])));
        // No basicConstraints: a key usage with keyCertSign says yes; none says no.
        assert!(may_issue(&cert(IsCa::NoCa, vec![Ku::KeyCertSign])));
        assert!(!may_issue(&cert(IsCa::NoCa, vec![])));
        assert!(!may_issue(b"not DER"));
        // Every bundled Mozilla root may issue.
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            assert!(may_issue(root.as_ref()));
        }
    }

    #[test]
    fn an_extra_ca_file_of_servers_only_is_refused_and_others_are_counted() {
        let leaf = cert(rcgen::IsCa::ExplicitNoCa, vec![]);
        let ca = cert(
            rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
            vec![],
        );
        let to_pem = |der: &[u8]| {
            use base64::Engine;
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n")
        };
        let only_leaf = ExtraCa {
            name: "the CA file leaf.pem".into(),
            pem: to_pem(&leaf).into_bytes(),
        };
        let err = root_certs(&[only_leaf]).unwrap_err();
        assert_eq!(
            err,
            ClientError::NoAuthority {
                name: "the CA file leaf.pem".into(),
                count: 1
            }
        );
        assert!(err.to_string().contains("may not issue others"), "{err}");
        let both = ExtraCa {
            name: "both.pem".into(),
            pem: format!("{}{}", to_pem(&leaf), to_pem(&ca)).into_bytes(),
        };
        let (_, with) = root_certs(&[both]).unwrap();
        let (_, without) = root_certs(&[]).unwrap();
        assert_eq!(with.extra, 1);
        assert_eq!(with.dropped, without.dropped + 1);
    }
}

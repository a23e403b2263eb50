//! Mutual TLS for the CoT listener, as TAK servers do it: the server presents its
//! certificate, the client must present one issued by a configured certificate authority,
//! and the client certificate's subject common name (CN) names the truce account the
//! connection acts as. An account that does not exist, is disabled or lacks the read scope
//! is refused after the handshake, with a line saying why.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use truce_commission::roles::{ADMIN, SYSTEM, Scope};

use super::{HANDSHAKE, Keys, Slots, accept, session};
use crate::state::AppState;

/// The files of the TLS listener.
#[derive(Clone, Debug)]
pub struct TlsFiles<'a> {
    /// The server's certificate chain (PEM), its own first.
    pub cert: &'a Path,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: &'a Path,
    /// The certificate authorities (PEM) whose client certificates are accepted.
    pub client_ca: &'a Path,
}

/// The acceptor for `files`; its error names the file at fault.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let certs = |path: &Path| {
        let list = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if list.is_empty() {
            return Err(format!("{}: no certificate in it", path.display()));
        }
        Ok(list)
    };
    let chain = certs(files.cert)?;
    let key = PrivateKeyDer::from_pem_file(files.key)
        .map_err(|e| format!("{}: {e}", files.key.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(files.client_ca)? {
        roots
            .add(ca)
            .map_err(|e| format!("{}: {e}", files.client_ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("{}: {e}", files.client_ca.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("{} and {}: {e}", files.cert.display(), files.key.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The subject common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    use x509_cert::der::Decode;
    use x509_cert::der::asn1::{PrintableStringRef, Utf8StringRef};
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let cn = const_oid_cn();
    cert.tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == cn)
        .and_then(|atv| {
            Utf8StringRef::try_from(&atv.value)
                .map(|s| s.as_str().to_string())
                .or_else(|_| PrintableStringRef::try_from(&atv.value).map(|s| s.to_string()))
                .ok()
        })
}

/// id-at-commonName, 2.5.4.3.
fn const_oid_cn() -> x509_cert::der::oid::ObjectIdentifier {
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.4.3")
}

/// Accepts TLS connections until aborted; its connections end with it.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    keys: Option<Keys>,
    slots: Slots,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer, slot) = accept(&listener, &slots).await;
        let (state, keys, acceptor) = (state.clone(), keys.clone(), acceptor.clone());
        while connections.try_join_next().is_some() {}
        connections.spawn(async move {
            let _slot = slot;
            let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "CoT TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "CoT TLS handshake timed out");
                    return;
                }
            };
            let name = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|cert| common_name(cert));
            // The built-in accounts (the configured admin token's, the server's own) hold
            // no certificates: a CN naming one is refused like any unknown name.
            let account = name
                .as_deref()
                .filter(|id| *id != ADMIN && *id != SYSTEM)
                .and_then(|id| state.desk.account(id))
                .filter(|a| a.role.may(Scope::Read));
            let (read, mut write) = tokio::io::split(tls);
            let Some(account) = account else {
                let why = match name {
                    Some(id) => format!(
                        "the certificate's CN {id:?} is no enabled account that takes certificates"
                    ),
                    None => "the certificate has no CN".to_string(),
                };
                tracing::info!(%peer, why, "CoT TLS client refused");
                let _ = write
                    .write_all(format!("truce: unauthorized ({why})\n").as_bytes())
                    .await;
                let _ = write.shutdown().await;
                return;
            };
            let reader = BufReader::new(read);
            if let Err(why) = session(state, account, "tls", reader, write, keys).await {
                tracing::info!(%peer, why, "CoT TLS connection closed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_names_the_account() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Monitors");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "analyst-7");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(common_name(cert.der()).as_deref(), Some("analyst-7"));
        let anonymous = rcgen::CertificateParams::new(vec!["x".into()]).unwrap();
        let mut anonymous = anonymous;
        anonymous.distinguished_name = rcgen::DistinguishedName::new();
        let cert = anonymous.self_signed(&key).unwrap();
        assert_eq!(common_name(cert.der()), None);
        assert_eq!(common_name(b"not a certificate"), None);
    }
}

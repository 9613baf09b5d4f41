//! The server-certificate check behind every `sslmode`, in one rustls verifier.
//!
//! rustls always verifies certificates fully; libpq's modes need less: `require` encrypts
//! without checking the chain, `verify-ca` checks the chain but not the host name. So this
//! verifier does the steps a mode asks for, with rustls' own building blocks: the chain
//! (`verify_server_cert_signed_by_trust_anchor`), then the name (`verify_server_name`). The
//! handshake signatures are always checked, whatever the mode, so the peer must still hold
//! the key of the certificate it shows.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// Checks a PostgreSQL server's certificate as far as its `sslmode` asks.
#[derive(Debug)]
pub struct PgVerifier {
    /// Trusted roots; `None` skips the chain (and so the name): encryption only.
    roots: Option<Arc<RootCertStore>>,
    /// Whether the certificate must name the host (`verify-full`).
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl PgVerifier {
    /// A verifier for `roots` (none: not checked) and, with `check_name`, the host name.
    pub fn new(
        roots: Option<RootCertStore>,
        check_name: bool,
        provider: Arc<CryptoProvider>,
    ) -> PgVerifier {
        PgVerifier {
            roots: roots.map(Arc::new),
            check_name,
            provider,
        }
    }
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(roots) = &self.roots else {
            return Ok(ServerCertVerified::assertion());
        };
        let cert = ParsedCertificate::try_from(end_entity)?;
        let algorithms = self.provider.signature_verification_algorithms.all;
        verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, algorithms)?;
        if self.check_name {
            verify_server_name(&cert, server_name)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

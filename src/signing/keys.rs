//! DKIM keys: loading PEM files, generating new keys, and the DNS record to publish.

use std::path::Path;

use base64::Engine;
use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, pem::PemObject};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A signing key with what DNS must publish for it.
pub struct LoadedKey {
    pub key: DkimKey,
    /// `rsa` or `ed25519`.
    pub kind: &'static str,
    /// The `p=` value: base64 of the SubjectPublicKeyInfo (RSA) or of the raw key (Ed25519).
    pub public: String,
}

/// Reads a PEM private key (RSA PKCS#1 or PKCS#8, or Ed25519 PKCS#8); the error names the file.
pub fn load(path: &Path) -> Result<LoadedKey, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read DKIM key {}: {e}", path.display()))?;
    parse(&pem).map_err(|e| format!("DKIM key {}: {e}", path.display()))
}

pub fn parse(pem: &[u8]) -> Result<LoadedKey, String> {
    let der =
        PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("not a PEM private key ({e})"))?;
    if let Ok(rsa) = RsaKey::<Sha256>::from_key_der(der.clone_key()) {
        let public = B64.encode(rsa_spki(&rsa.public_key()));
        return Ok(LoadedKey {
            key: DkimKey::Rsa(rsa),
            kind: "rsa",
            public,
        });
    }
    let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(pem)
        .map_err(|_| "neither an RSA nor an Ed25519 key".to_string())?;
    let ed = Ed25519Key::from_pkcs8_der(pkcs8.secret_pkcs8_der())
        .map_err(|e| format!("neither an RSA nor an Ed25519 key ({e})"))?;
    let public = B64.encode(ed.public_key());
    Ok(LoadedKey {
        key: DkimKey::Ed25519(ed),
        kind: "ed25519",
        public,
    })
}

/// A new key as PEM: RSA 2048 or Ed25519.
pub fn generate(kind: &str) -> Result<String, String> {
    let der = match kind {
        "ed25519" => Ed25519Key::generate_pkcs8().map_err(|e| e.to_string())?,
        "rsa" => {
            use aws_lc_rs::encoding::AsDer;
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|e| e.to_string())?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().map_err(|e| e.to_string())?;
            der.as_ref().to_vec()
        }
        other => return Err(format!("unknown algorithm {other:?}; use rsa or ed25519")),
    };
    let body = B64.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect();
    Ok(format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    ))
}

/// The TXT record to publish at `SELECTOR._domainkey.DOMAIN`, split into 255-byte strings.
pub fn dns_record(kind: &str, public: &str) -> String {
    let value = format!("v=DKIM1; k={kind}; p={public}");
    value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (what `openssl pkey -pubout` gives).
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    fn der(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
        out
    }
    // AlgorithmIdentifier { rsaEncryption, NULL }
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    let mut seq = algorithm.to_vec();
    seq.extend(der(0x03, &bits));
    der(0x30, &seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_give_a_dns_record() {
        for kind in ["ed25519", "rsa"] {
            let pem = generate(kind).unwrap();
            let key = parse(pem.as_bytes()).unwrap();
            assert_eq!(key.kind, kind);
            let record = dns_record(key.kind, &key.public);
            assert!(
                record.starts_with(&format!("\"v=DKIM1; k={kind}; p=")),
                "{record}"
            );
        }
        assert!(parse(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}

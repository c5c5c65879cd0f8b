//! Trust anchors (and any certificate bundle) from files.
//!
//! [`load_path`] reads a file or a directory of files; [`parse_certificates`] reads
//! bytes. Accepted: DER certificates, PEM files with one or many `CERTIFICATE` blocks,
//! and PKCS#7 / CMS certs-only bundles (`.p7b`, `.p7c`: a SignedData whose
//! `certificates` are read, DER or PEM `PKCS7` / `CMS`; the IGC-Santé chain is
//! published so). Certificates go through [`crate::decode_certificate`], so a pre-1970
//! validity date does not keep an anchor out. The bundle must be DER (definite lengths):
//! a BER one must be normalised first (mss-cms's `ber` module, a higher layer, does
//! so).

use std::path::{Path, PathBuf};

use x509_cert::Certificate;

/// Why certificates could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// The bytes are neither a certificate, a PEM bundle, nor a PKCS#7 bundle.
    #[error("{path}: {reason}")]
    Decode {
        /// The path (empty for bytes).
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Nothing was found.
    #[error("{path}: no certificate found")]
    Empty {
        /// The path.
        path: PathBuf,
    },
}

/// File name extensions read in a directory (other files are ignored).
pub const ANCHOR_EXTENSIONS: &[&str] = &["pem", "crt", "cer", "der", "p7b", "p7c", "p7"];

/// Load the certificates of a file (DER, PEM with one or many certificates, or a
/// PKCS#7 certs-only bundle), or of every file with an [`ANCHOR_EXTENSIONS`] extension
/// in a directory (not recursive, in name order). An empty result is an error.
pub fn load_path(path: &Path) -> Result<Vec<Certificate>, AnchorError> {
    let io = |e: std::io::Error| AnchorError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mut out = Vec::new();
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ANCHOR_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
            })
            .collect();
        files.sort();
        for f in files {
            out.extend(load_file(&f)?);
        }
    } else {
        out = load_file(path)?;
    }
    if out.is_empty() {
        return Err(AnchorError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

fn load_file(path: &Path) -> Result<Vec<Certificate>, AnchorError> {
    let bytes = std::fs::read(path).map_err(|e| AnchorError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    parse_certificates(&bytes).map_err(|reason| AnchorError::Decode {
        path: path.to_path_buf(),
        reason,
    })
}

/// The certificates in `bytes`: a DER certificate, a DER PKCS#7 certs-only bundle, or
/// PEM text with `CERTIFICATE`, `X509 CERTIFICATE`, `TRUSTED CERTIFICATE`, `PKCS7` or
/// `CMS` blocks (other PEM blocks, such as keys, are skipped).
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    if bytes.first() == Some(&0x30) {
        return match crate::decode_certificate(bytes) {
            Ok(c) => Ok(vec![c]),
            Err(cert_err) => pkcs7_certificates(bytes)
                .map_err(|p7| format!("not a certificate ({cert_err}) nor a PKCS#7 bundle ({p7})")),
        };
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "neither DER nor PEM".to_string())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let Some(label_end) = block["-----BEGIN ".len()..].find("-----") else {
            return Err("unterminated PEM header".into());
        };
        let label = &block["-----BEGIN ".len().."-----BEGIN ".len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            return Err(format!("PEM block {label} has no end"));
        };
        let pem = &block[..end + end_marker.len()];
        rest = &block[end + end_marker.len()..];
        match label {
            "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" | "PKCS7" | "CMS" => {}
            _ => continue,
        }
        let (_, der) =
            der::pem::decode_vec(pem.as_bytes()).map_err(|e| format!("PEM block {label}: {e}"))?;
        match label {
            "PKCS7" | "CMS" => out.extend(pkcs7_certificates(&der)?),
            "TRUSTED CERTIFICATE" => {
                // OpenSSL's trusted form: the certificate followed by its trust settings.
                let len = crate::crl::split_tlv(&der)
                    .map(|(_, _, l)| l)
                    .ok_or("malformed TRUSTED CERTIFICATE")?;
                out.push(crate::decode_certificate(&der[..len]).map_err(|e| e.to_string())?);
            }
            _ => out.push(crate::decode_certificate(&der).map_err(|e| e.to_string())?),
        }
    }
    if out.is_empty() {
        return Err("no certificate in the PEM text".into());
    }
    Ok(out)
}

/// The certificates of a DER PKCS#7 / CMS SignedData (certs-only or not), walked
/// element by element: the `cms` crate's `SET OF` decoding insists on DER order, which
/// bundles made by common tools do not keep.
fn pkcs7_certificates(der: &[u8]) -> Result<Vec<Certificate>, String> {
    use crate::crl::split_tlv;
    let bad = |what: &str| format!("not a PKCS#7 SignedData: {what}");
    let (tag, ci, len) = split_tlv(der).ok_or_else(|| bad("truncated"))?;
    if tag != 0x30 || len != der.len() {
        return Err(bad("ContentInfo is not one SEQUENCE"));
    }
    let (oid_tag, oid, oid_len) = split_tlv(ci).ok_or_else(|| bad("no content type"))?;
    if oid_tag != 0x06 || oid != SIGNED_DATA_OID {
        return Err(bad("content type is not signedData"));
    }
    let (ctag, explicit, _) = split_tlv(&ci[oid_len..]).ok_or_else(|| bad("no content"))?;
    let (stag, sd, _) = split_tlv(explicit).ok_or_else(|| bad("no SignedData"))?;
    if ctag != 0xA0 || stag != 0x30 {
        return Err(bad("content is not [0] SEQUENCE"));
    }
    let mut out = Vec::new();
    let mut rest = sd;
    while !rest.is_empty() {
        let (t, body, l) = split_tlv(rest).ok_or_else(|| bad("truncated field"))?;
        if t == 0xA0 {
            let mut certs = body;
            while !certs.is_empty() {
                let (ct, _, cl) = split_tlv(certs).ok_or_else(|| bad("truncated certificate"))?;
                if ct == 0x30 {
                    out.push(crate::decode_certificate(&certs[..cl]).map_err(|e| e.to_string())?);
                }
                certs = &certs[cl..];
            }
        }
        rest = &rest[l..];
    }
    Ok(out)
}

/// The content of the OID 1.2.840.113549.1.7.2 (signedData).
const SIGNED_DATA_OID: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];

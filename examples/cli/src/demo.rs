//! `mss demo`: the whole journey from nothing, with throwaway identities in a temporary
//! directory (or in `--dir DIR`, kept) — a signed message, a signed+encrypted message,
//! each opened by its recipient with the report, then a tampered copy caught.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use der::EncodePem as _;

use mss::{Report, SignatureStatus};
use mss_token::ca::{CertificateAuthority, KeyUsageProfile, PersonProfile};

use crate::{Failure, exit};

const DRAFT: &str = "From: Dr Alice Martin <alice.martin@demo.mssante.test>\r\n\
To: Dr Bob Durand <bob.durand@demo.mssante.test>\r\n\
Subject: Compte rendu de consultation\r\n\
Date: Sun, 29 Nov 2026 10:00:00 +0100\r\n\
Message-ID: <demo-1@demo.mssante.test>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Cher confrère,\r\n\
\r\n\
Veuillez trouver ci-dessous le compte rendu de la consultation de ce jour.\r\n\
Tension artérielle 12/8, traitement inchangé.\r\n\
\r\n\
Bien confraternellement,\r\n\
Dr Alice Martin\r\n";

/// The chain, revocation answers and validation time of a signer, when known.
fn trust_lines(s: &mut String, sig: &mss::SignatureReport) {
    if !sig.chain.is_empty() {
        let _ = writeln!(s, "    chain: {}", sig.chain.join(" <- "));
    }
    for r in &sig.revocation {
        let status = match r.status {
            mss::RevocationState::Good => "good",
            mss::RevocationState::Revoked => "REVOKED",
            mss::RevocationState::Unknown => "unknown",
        };
        let _ = writeln!(
            s,
            "    revocation: {status} (source {}) — {}",
            r.source, r.subject
        );
    }
    if let (Some(t), Some(src)) = (&sig.validation_time, sig.validation_time_source) {
        let how = match src {
            mss::TimeSource::Now => "now",
            mss::TimeSource::Given => "given time",
            mss::TimeSource::SigningTime => "signing time",
        };
        let _ = writeln!(s, "    validated at {t} ({how})");
    }
}

/// A short human summary of a report (also printed by `mss open` on stderr).
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    if r.encrypted {
        let _ = writeln!(
            s,
            "  encrypted: yes ({}{}, key transport {})",
            r.content_cipher.as_deref().unwrap_or("?"),
            if r.authenticated_encryption {
                ", authenticated"
            } else {
                ""
            },
            r.key_transport.as_deref().unwrap_or("?")
        );
    } else {
        let _ = writeln!(s, "  encrypted: no");
    }
    if r.signatures.is_empty() {
        let _ = writeln!(s, "  signed: no");
    }
    for sig in &r.signatures {
        let _ = writeln!(
            s,
            "  signature: {} — {} <{}> ({}, {}){}{}",
            status_word(sig.status),
            sig.signer.subject,
            sig.signer.email.as_deref().unwrap_or("no e-mail"),
            sig.signature_algorithm,
            sig.digest,
            sig.signing_time
                .as_deref()
                .map(|t| format!(", signed at {t}"))
                .unwrap_or_default(),
            sig.detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
        trust_lines(&mut s, sig);
    }
    if let Some(ph) = &r.protected_headers {
        let _ = writeln!(s, "  protected headers: {}", ph.scheme);
    }
    for rr in &r.receipt_requests {
        let _ = writeln!(
            s,
            "  signed receipt requested ({}) for {}: mss receipt create",
            rr.receipts_from,
            rr.receipts_to.join(", ")
        );
    }
    if let Some(to) = &r.disposition_notification_to {
        let _ = writeln!(
            s,
            "  disposition notification requested by {to}: mss mdn create"
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "  warning: {w}");
    }
    s
}

fn status_word(s: SignatureStatus) -> &'static str {
    match s {
        SignatureStatus::Valid => "VALID",
        SignatureStatus::Invalid => "INVALID",
        SignatureStatus::Untrusted => "UNTRUSTED",
        SignatureStatus::Expired => "EXPIRED",
        SignatureStatus::Revoked => "REVOKED",
        SignatureStatus::Unknown => "UNKNOWN",
    }
}

fn fail(what: &str) -> impl Fn(mss_token::TokenError) -> Failure + '_ {
    move |e| Failure::new(exit::FAILURE, format!("demo: {what}: {e}"))
}

/// Where the demo writes its files: a temporary directory deleted at the end, or the
/// directory the user asked for (kept).
enum WorkDir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl WorkDir {
    fn path(&self) -> &Path {
        match self {
            WorkDir::Temporary(t) => t.path(),
            WorkDir::Kept(p) => p,
        }
    }

    fn write(&self, name: &str, data: &[u8]) -> Result<(), Failure> {
        let p = self.path().join(name);
        std::fs::write(&p, data).map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("demo: cannot write {}: {e}", p.display()),
            )
        })
    }
}

/// Run the demo; with `keep`, the generated files stay in that directory (created if
/// needed).
pub fn run(keep: Option<&Path>) -> Result<(), Failure> {
    let dir =
        match keep {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| {
                    Failure::new(
                        exit::FAILURE,
                        format!("demo: cannot create {}: {e}", d.display()),
                    )
                })?;
                // Absolute, so that the "try it yourself" line works from anywhere.
                WorkDir::Kept(std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()))
            }
            None => WorkDir::Temporary(tempfile::tempdir().map_err(|e| {
                Failure::new(exit::FAILURE, format!("demo: temporary directory: {e}"))
            })?),
        };
    println!("mss demo — working in {}", dir.path().display());
    println!();
    println!("1. A throwaway authority and two health professionals");
    let ca =
        CertificateAuthority::new("MSS Demo Health CA", 2048).map_err(fail("creating the CA"))?;
    let person = |cn: &str, email: &str| PersonProfile {
        usage: KeyUsageProfile::SignAndEncrypt,
        ..PersonProfile::new(cn, email)
    };
    let alice = ca
        .issue(&person("Dr Alice Martin", "alice.martin@demo.mssante.test"))
        .map_err(fail("issuing Alice"))?;
    let bob = ca
        .issue(&person("Dr Bob Durand", "bob.durand@demo.mssante.test"))
        .map_err(fail("issuing Bob"))?;
    for (name, id) in [("alice", &alice), ("bob", &bob)] {
        let pem = id.to_pem().map_err(fail("saving an identity"))?;
        dir.write(&format!("{name}.pem"), pem.as_bytes())?;
    }
    let ca_pem = ca
        .certificate()
        .to_pem(der::pem::LineEnding::LF)
        .map_err(|e| Failure::new(exit::FAILURE, format!("demo: saving the CA: {e}")))?;
    dir.write("ca.pem", ca_pem.as_bytes())?;
    println!("   CA: {}", ca.certificate().tbs_certificate().subject());
    println!(
        "   Alice: {}",
        alice.certificate().tbs_certificate().subject()
    );
    println!(
        "   Bob:   {}",
        bob.certificate().tbs_certificate().subject()
    );
    let anchors = vec![ca.certificate().clone()];

    println!();
    println!("2. Alice signs a message to Bob (multipart/signed, RSA SHA-256)");
    let signed = mss::sign(DRAFT.as_bytes(), &alice, &mss::SignOptions::default())?;
    dir.write("signed.eml", &signed)?;
    println!("   {} bytes written to signed.eml", signed.len());
    let opened_signed = mss::open(
        &signed,
        &mss::OpenOptions {
            trust_anchors: anchors.clone(),
            ..Default::default()
        },
    )?;
    println!("   Bob opens it:");
    print!("{}", summary(&opened_signed.report));

    println!();
    println!(
        "3. Alice signs and encrypts a message to Bob (AES-256-GCM, AuthEnvelopedData); she is a recipient too"
    );
    let opts = mss::EncryptOptions {
        cipher: mss::ContentCipher::Aes256Gcm,
        ..Default::default()
    };
    let sealed = mss::sign_and_encrypt(
        DRAFT.as_bytes(),
        &alice,
        &[bob.certificate().clone()],
        None,
        &opts,
    )?;
    dir.write("sealed.eml", &sealed)?;
    println!("   {} bytes written to sealed.eml", sealed.len());
    let opened = mss::open(
        &sealed,
        &mss::OpenOptions {
            keys: vec![&bob],
            trust_anchors: anchors.clone(),
            ..Default::default()
        },
    )?;
    println!("   Bob opens it:");
    print!("{}", summary(&opened.report));
    println!("   Clear message Bob reads:");
    for line in String::from_utf8_lossy(&opened.message).lines() {
        println!("   | {line}");
    }
    let own = mss::open(
        &sealed,
        &mss::OpenOptions {
            keys: vec![&alice],
            trust_anchors: anchors.clone(),
            ..Default::default()
        },
    )?;
    println!(
        "   Alice re-opens her sent copy: {}",
        if own.report.all_signatures_valid() {
            "readable, signature valid"
        } else {
            "PROBLEM"
        }
    );

    println!();
    println!("4. Someone alters the signed message in transit (\"12/8\" becomes \"18/8\")");
    let text = String::from_utf8_lossy(&signed).replace("12/8", "18/8");
    let tampered = mss::open(
        text.as_bytes(),
        &mss::OpenOptions {
            trust_anchors: anchors.clone(),
            ..Default::default()
        },
    )?;
    print!("{}", summary(&tampered.report));
    let caught = text.as_bytes() != signed.as_slice() && !tampered.report.all_signatures_valid();
    println!(
        "   {}",
        if caught {
            "Caught: the signature no longer matches the content."
        } else {
            "NOT CAUGHT — this is a bug."
        }
    );
    println!();
    match &dir {
        WorkDir::Kept(d) => {
            let f = |name: &str| d.join(name).display().to_string();
            println!("Try it yourself with the files kept in {}:", d.display());
            println!(
                "   mss open --trust {} --identity {} --in {}",
                f("ca.pem"),
                f("bob.pem"),
                f("sealed.eml")
            );
        }
        WorkDir::Temporary(_) => {
            println!(
                "The files above are deleted now that the demo ends. To keep them and try it yourself:"
            );
            println!("   mss demo --dir DIR");
            println!("   mss open --trust DIR/ca.pem --identity DIR/bob.pem --in DIR/sealed.eml");
        }
    }
    let all_good = opened_signed.report.all_signatures_valid()
        && opened.report.all_signatures_valid()
        && own.report.all_signatures_valid()
        && caught;
    if all_good {
        Ok(())
    } else {
        Err(Failure::new(exit::FAILURE, "demo: unexpected verdict"))
    }
}

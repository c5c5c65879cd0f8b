//! `mss keystore …` and `mss delegate …`: the confidentiality key on the workstation
//! (crate `mss-keystore`), and its use by `mss open --keystore` / refusal by
//! `mss sign --keystore --recovery-env`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use mss_keystore::{
    KdfParams, KeySession, KeyStore, KeystoreError, NewKey, RecoverySecret, format_rfc3339,
    parse_rfc3339,
};
use mss_token::{Identity, SoftwareIdentity};

use crate::{CliPin, Failure, PinArgs, exit, load_identity, load_one_cert};

/// `mss keystore`.
#[derive(Args)]
pub struct KeystoreArgs {
    #[command(subcommand)]
    command: KeystoreCommand,
}

#[derive(Subcommand)]
enum KeystoreCommand {
    /// Create a key store holding the confidentiality key, unlocked by your card.
    Create(CreateArgs),
    /// Show the audit log (--verify: check it end to end).
    Audit(AuditArgs),
    /// Roll the confidentiality key (the old ones stay to read old mail) and the
    /// key-encryption key; a new recovery secret replaces the old one.
    Rekey(CreateArgs),
    /// Install the certificate the CA issued for a generated key.
    InstallCert(InstallCertArgs),
}

#[derive(Args)]
struct StoreArg {
    /// The key store file.
    #[arg(long, value_name = "FILE")]
    keystore: PathBuf,
}

#[derive(Args)]
struct HolderArgs {
    /// The card (a `pkcs11:` URI) or software identity (PKCS#12 / PEM file).
    #[arg(long, value_name = "CARD_ID")]
    identity: String,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Args)]
struct CreateArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    holder: HolderArgs,
    /// Import the confidentiality key and its certificate from this PKCS#12 (or PEM)
    /// file, e.g. an IGC-Santé software certificate.
    #[arg(
        long = "import-key",
        value_name = "P12",
        conflicts_with = "generate",
        required_unless_present = "generate"
    )]
    import_key: Option<PathBuf>,
    /// Read the password of --import-key from this environment variable (default: prompt).
    #[arg(long = "import-password-env", value_name = "VAR")]
    import_password_env: Option<String>,
    /// Generate a new RSA key instead, and write a certificate request for the CA
    /// (--csr-out); install the certificate with `mss keystore install-cert`.
    #[arg(long)]
    generate: bool,
    /// Where to write the certificate request of --generate (default: FILE.csr.pem
    /// beside the key store).
    #[arg(long = "csr-out", value_name = "FILE")]
    csr_out: Option<PathBuf>,
    /// Write the recovery secret to this new file (mode 0600). Print it, keep it away
    /// from the workstation, then delete the file.
    #[arg(long = "recovery-out", value_name = "FILE")]
    recovery_out: PathBuf,
    /// Argon2id memory for the recovery slot, in KiB (default 65536 = 64 MiB). Lower
    /// values are for test suites only: they make guessing cheaper.
    #[arg(long = "kdf-memory-kib", value_name = "KIB", default_value_t = KdfParams::PRODUCTION.memory_kib)]
    kdf_memory_kib: u32,
    /// Argon2id passes for the recovery slot (default 3).
    #[arg(long = "kdf-passes", value_name = "N", default_value_t = KdfParams::PRODUCTION.passes)]
    kdf_passes: u32,
}

#[derive(Args)]
struct AuditArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Verify the hash chain end to end (exit 1 if any entry was altered or removed)
    /// and print its head, to keep elsewhere.
    #[arg(long)]
    verify: bool,
    /// Print the entries as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct InstallCertArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    holder: HolderArgs,
    /// The certificate (PEM, possibly followed by its chain).
    #[arg(long, value_name = "CERT")]
    cert: PathBuf,
}

/// `mss delegate`.
#[derive(Args)]
pub struct DelegateArgs {
    #[command(subcommand)]
    command: DelegateCommand,
}

#[derive(Subcommand)]
enum DelegateCommand {
    /// The holder grants a delegate access to the confidentiality key, until a date.
    Grant(GrantArgs),
    /// The delegate accepts the grant addressed to them (with their own card).
    Accept(AcceptArgs),
    /// The holder revokes a delegation (the delegate's slot is destroyed).
    Revoke(RevokeArgs),
    /// List the delegations.
    List(StoreArg),
}

#[derive(Args)]
struct GrantArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    holder: HolderArgs,
    /// The delegate's decryption-capable certificate (on a CPS card, the
    /// authentication certificate), PEM or DER.
    #[arg(long, value_name = "DELEGATE_CERT")]
    to: PathBuf,
    /// End of the delegation (RFC 3339, e.g. 2026-12-31T18:00:00+01:00).
    #[arg(long, value_name = "RFC3339")]
    until: String,
    /// Start of the delegation (RFC 3339; default: now).
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,
}

#[derive(Args)]
struct AcceptArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    delegate: HolderArgs,
}

#[derive(Args)]
struct RevokeArgs {
    #[command(flatten)]
    store: StoreArg,
    #[command(flatten)]
    holder: HolderArgs,
    /// The delegate's certificate, as given to `grant --to`.
    #[arg(long, value_name = "DELEGATE_CERT")]
    delegate: PathBuf,
}

/// A key store error as a CLI failure: refusals of access are "cannot decrypt" when
/// opening a message, typing mistakes are usage errors, the rest is a failure.
fn failure(e: KeystoreError, opening: bool) -> Failure {
    let code = match &e {
        KeystoreError::RecoverySecretMistyped(_) => exit::USAGE,
        KeystoreError::WrongRecoverySecret
        | KeystoreError::NoAccess(_)
        | KeystoreError::DelegationExpired(_)
        | KeystoreError::DelegationNotYetValid(_)
        | KeystoreError::DelegationRevoked
        | KeystoreError::CertificateMissing
            if opening =>
        {
            exit::CANNOT_DECRYPT
        }
        _ => exit::FAILURE,
    };
    Failure::new(code, format!("key store: {e}"))
}

fn open_store(path: &Path) -> Result<KeyStore, Failure> {
    KeyStore::open(path).map_err(|e| failure(e, false))
}

fn identity(h: &HolderArgs) -> Result<Box<dyn Identity>, Failure> {
    load_identity(&h.identity, &h.pin)
}

/// Write `data` to a new file readable by its owner only (never over an existing one).
fn write_private(path: &Path, data: &[u8]) -> Result<(), Failure> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot create {}: {e}", path.display()),
        )
    })?;
    f.write_all(data).and_then(|_| f.sync_all()).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

/// The new key of `create` / `rekey`.
fn new_key(a: &CreateArgs) -> Result<NewKey, Failure> {
    match &a.import_key {
        Some(p) => {
            let pins = CliPin::new(a.import_password_env.clone());
            let id = SoftwareIdentity::load(p, &pins).map_err(|e| {
                let why = pins.problem().unwrap_or_else(|| e.to_string());
                Failure::new(exit::FAILURE, format!("cannot read {}: {why}", p.display()))
            })?;
            Ok(NewKey::Import(Box::new(id)))
        }
        None => Ok(NewKey::Generate { bits: 2048 }),
    }
}

fn kdf(a: &CreateArgs) -> Result<KdfParams, Failure> {
    let k = KdfParams {
        memory_kib: a.kdf_memory_kib,
        passes: a.kdf_passes,
        lanes: 1,
    };
    k.validate()
        .map_err(|e| Failure::new(exit::USAGE, format!("--kdf-*: {e}")))?;
    Ok(k)
}

/// Show the outcome of create/rekey: the recovery secret file and the request.
fn hand_over(a: &CreateArgs, created: mss_keystore::Created) -> Result<(), Failure> {
    let mut text = Zeroizing::new(String::new());
    text.push_str(&created.recovery.expose());
    text.push('\n');
    write_private(&a.recovery_out, text.as_bytes())?;
    eprintln!(
        "recovery secret written to {} — print it or copy it by hand, keep it away from \
         this workstation, then delete the file: it opens the store without the card",
        a.recovery_out.display()
    );
    if let Some(csr) = created.csr_pem {
        let out = a.csr_out.clone().unwrap_or_else(|| {
            let mut p = a.store.keystore.clone().into_os_string();
            p.push(".csr.pem");
            PathBuf::from(p)
        });
        crate::write_output(&Some(out.clone()), csr.as_bytes())?;
        eprintln!(
            "certificate request written to {}: send it to the CA, then run \
             `mss keystore install-cert --cert CERT`",
            out.display()
        );
    }
    Ok(())
}

fn create(a: CreateArgs) -> Result<(), Failure> {
    let params = kdf(&a)?;
    if a.recovery_out.exists() {
        return Err(Failure::new(
            exit::FAILURE,
            format!("{} already exists", a.recovery_out.display()),
        ));
    }
    let key = new_key(&a)?;
    let holder = identity(&a.holder)?;
    let (store, created) = KeyStore::create(&a.store.keystore, holder.as_ref(), key, params)
        .map_err(|e| failure(e, false))?;
    eprintln!("key store created: {}", store.path().display());
    hand_over(&a, created)
}

fn rekey(a: CreateArgs) -> Result<(), Failure> {
    let params = kdf(&a)?;
    if a.recovery_out.exists() {
        return Err(Failure::new(
            exit::FAILURE,
            format!("{} already exists", a.recovery_out.display()),
        ));
    }
    let mut store = open_store(&a.store.keystore)?;
    let key = new_key(&a)?;
    let holder = identity(&a.holder)?;
    let created = store
        .rekey(holder.as_ref(), key, params)
        .map_err(|e| failure(e, false))?;
    eprintln!("key store rekeyed: the old keys stay to read old mail");
    hand_over(&a, created)
}

fn audit(a: AuditArgs) -> Result<(), Failure> {
    let store = open_store(&a.store.keystore)?;
    let head = if a.verify {
        Some(store.verify_audit().map_err(|e| failure(e, false))?)
    } else {
        None
    };
    let entries = store.audit_log().map_err(|e| failure(e, false))?;
    let mut out = String::new();
    if a.json {
        let json = serde_json::to_string_pretty(&entries)
            .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
        out.push_str(&json);
        out.push('\n');
    } else {
        for e in &entries {
            out.push_str(&format!(
                "#{} {} {} by {}{}{} — {}\n",
                e.seq,
                format_rfc3339(e.time),
                e.event,
                e.actor,
                e.slot.map(|s| format!(" slot {s}")).unwrap_or_default(),
                e.message_id
                    .as_deref()
                    .map(|m| format!(" message {m}"))
                    .unwrap_or_default(),
                e.detail
            ));
        }
    }
    crate::write_stdout(out.as_bytes())?;
    if let Some(h) = head {
        eprintln!(
            "audit log verified: {} entries, head {} (keep it elsewhere to detect a rewrite)",
            h.entries, h.hash
        );
    }
    Ok(())
}

fn install_cert(a: InstallCertArgs) -> Result<(), Failure> {
    let mut store = open_store(&a.store.keystore)?;
    let pem = std::fs::read_to_string(&a.cert).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot read {}: {e}", a.cert.display()),
        )
    })?;
    let holder = identity(&a.holder)?;
    store
        .install_certificate(holder.as_ref(), &pem)
        .map_err(|e| failure(e, false))?;
    eprintln!("certificate installed");
    Ok(())
}

fn date(flag: &str, s: &str) -> Result<i64, Failure> {
    parse_rfc3339(s).map_err(|e| Failure::new(exit::USAGE, format!("{flag} {s}: {e}")))
}

fn grant(a: GrantArgs) -> Result<(), Failure> {
    let until = date("--until", &a.until)?;
    let from = a.from.as_deref().map(|f| date("--from", f)).transpose()?;
    let to = load_one_cert(&a.to)?;
    let mut store = open_store(&a.store.keystore)?;
    let holder = identity(&a.holder)?;
    let g = store
        .grant(holder.as_ref(), &to, from, until)
        .map_err(|e| failure(e, false))?;
    eprintln!(
        "granted: {} — the delegate must now run `mss delegate accept` with their card",
        g.summary()
    );
    Ok(())
}

fn accept(a: AcceptArgs) -> Result<(), Failure> {
    let mut store = open_store(&a.store.keystore)?;
    let delegate = identity(&a.delegate)?;
    let g = store
        .accept(delegate.as_ref())
        .map_err(|e| failure(e, false))?;
    eprintln!("accepted: {}", g.summary());
    Ok(())
}

fn revoke(a: RevokeArgs) -> Result<(), Failure> {
    let cert = load_one_cert(&a.delegate)?;
    let mut store = open_store(&a.store.keystore)?;
    let holder = identity(&a.holder)?;
    let n = store
        .revoke(holder.as_ref(), &cert)
        .map_err(|e| failure(e, false))?;
    eprintln!(
        "revoked {n} delegation(s); consider `mss keystore rekey`: a delegate may have kept \
         what they could read while the delegation was active"
    );
    Ok(())
}

fn list(a: StoreArg) -> Result<(), Failure> {
    let store = open_store(&a.keystore)?;
    let mut out = String::new();
    for g in store.delegations().map_err(|e| failure(e, false))? {
        out.push_str(&g.summary());
        out.push('\n');
    }
    crate::write_stdout(out.as_bytes())
}

/// Run `mss keystore …`.
pub fn run_keystore(a: KeystoreArgs) -> Result<(), Failure> {
    match a.command {
        KeystoreCommand::Create(c) => create(c),
        KeystoreCommand::Audit(c) => audit(c),
        KeystoreCommand::Rekey(c) => rekey(c),
        KeystoreCommand::InstallCert(c) => install_cert(c),
    }
}

/// Run `mss delegate …`.
pub fn run_delegate(a: DelegateArgs) -> Result<(), Failure> {
    match a.command {
        DelegateCommand::Grant(c) => grant(c),
        DelegateCommand::Accept(c) => accept(c),
        DelegateCommand::Revoke(c) => revoke(c),
        DelegateCommand::List(c) => list(c),
    }
}

/// `mss sign` with a key store: signing needs the card. With `--recovery-env` (the
/// degraded mode) or without `--identity`, refuse with [`exit::SIGNING_NEEDS_CARD`].
pub fn check_sign(
    keystore: Option<&Path>,
    recovery_env: Option<&str>,
    identity: Option<&str>,
) -> Result<(), Failure> {
    if keystore.is_some() && (recovery_env.is_some() || identity.is_none()) {
        return Err(Failure::new(
            exit::SIGNING_NEEDS_CARD,
            "signing needs the card: the key store holds only the confidentiality \
             (decryption) key, and the recovery secret cannot sign; sign with \
             --identity CARD_ID (your CPS card)",
        ));
    }
    Ok(())
}

/// Read the recovery secret from the environment variable `var`.
fn recovery_secret(var: &str) -> Result<RecoverySecret, Failure> {
    let typed = Zeroizing::new(std::env::var(var).map_err(|_| {
        Failure::new(
            exit::USAGE,
            format!("--recovery-env {var}: the environment variable {var} is not set"),
        )
    })?);
    RecoverySecret::parse(&typed).map_err(|e| failure(e, true))
}

/// Unlock the key store for `mss open`: with the recovery secret (degraded mode) when
/// `recovery_env` is given, else with `identity` (the holder's or a delegate's card).
pub fn open_session(
    path: &Path,
    identity: Option<&dyn Identity>,
    recovery_env: Option<&str>,
) -> Result<KeySession, Failure> {
    let mut store = open_store(path)?;
    let session = match (recovery_env, identity) {
        (Some(var), _) => {
            let secret = recovery_secret(var)?;
            let s = store
                .unlock_with_recovery(&secret)
                .map_err(|e| failure(e, true))?;
            eprintln!(
                "degraded mode: the key store is open with the recovery secret (recorded \
                 in its audit log); signatures are still verified, signing needs the card"
            );
            s
        }
        (None, Some(id)) => store.unlock(id).map_err(|e| failure(e, true))?,
        (None, None) => {
            return Err(Failure::new(
                exit::USAGE,
                "--keystore needs --identity CARD_ID (holder or delegate) or --recovery-env VAR",
            ));
        }
    };
    Ok(session)
}

/// The `Message-ID` of a message's (outer) header, for the audit log.
pub fn message_id(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&message[..message.len().min(64 * 1024)]);
    let mut current: Option<String> = None;
    let mut found = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(c) = current.take()
            && found.is_none()
        {
            found = header_value(&c);
        }
        current = Some(line.to_owned());
    }
    if let Some(c) = current
        && found.is_none()
    {
        found = header_value(&c);
    }
    found
}

fn header_value(line: &str) -> Option<String> {
    let (name, value) = line.split_once(':')?;
    (name.trim().eq_ignore_ascii_case("message-id") && !value.trim().is_empty())
        .then(|| value.trim().chars().filter(|c| !c.is_control()).collect())
}

#[cfg(test)]
mod tests {
    use super::message_id;

    #[test]
    fn reads_the_message_id_of_the_header_only() {
        let m = b"From: a@b\r\nMessage-ID:\r\n <x@y>\r\nSubject: s\r\n\r\nMessage-ID: <body@y>\r\n";
        assert_eq!(message_id(m).as_deref(), Some("<x@y>"));
        assert_eq!(
            message_id(b"message-id: <z@y>\n\n").as_deref(),
            Some("<z@y>")
        );
        assert_eq!(
            message_id(b"From: a@b\r\n\r\nMessage-ID: <body@y>\r\n"),
            None
        );
        assert_eq!(message_id(b"\x30\x82\x01\x00"), None);
    }
}

//! `mss` — sign, encrypt and open S/MIME mail from the command line.
//!
//! The verbs and flags are a contract for scripts: flags are added, never renamed.
//! Exit codes are documented in [`exit`] and in the README.
#![forbid(unsafe_code)]

mod demo;
mod directory;
mod exit;
mod inputs;
mod keystore;
mod mdn;
mod receipt;
mod streaming;
mod trust;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use zeroize::Zeroizing;

use mss::{
    Certificate, ContentCipher, DigestAlgorithm, KeyTransport, LegacyPolicy, Policy,
    SignatureScheme, StandardPolicy,
};
use mss_token::{CardError, Identity, PinRequest, PinSource, TokenError};

/// Messagerie Sécurisée de Santé: S/MIME signing and encryption.
#[derive(Parser)]
#[command(name = "mss", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign a message (detached multipart/signed by default).
    Sign(SignArgs),
    /// Encrypt a message to recipients (and to yourself), optionally signing it first.
    Encrypt(Box<EncryptArgs>),
    /// Open a received message: decrypt, verify, report. `mss verify` is the same verb
    /// (a signed-only message needs no --identity).
    #[command(visible_alias = "verify")]
    Open(OpenArgs),
    /// Show the whole journey with throwaway identities.
    Demo(DemoArgs),
    /// The key store: the confidentiality key on the workstation, unlocked by the card.
    Keystore(keystore::KeystoreArgs),
    /// Delegate the key store's confidentiality key to a colleague (grant, accept,
    /// revoke, list).
    Delegate(keystore::DelegateArgs),
    /// ESS signed receipts (RFC 2634): answer a request, check a received receipt.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// Disposition notifications (RFC 8098, MSSanté): answer, check a received one.
    #[command(subcommand)]
    Mdn(mdn::MdnCommand),
    /// Look recipients' certificates up (local store, LDAP directory) and show them.
    Lookup(directory::LookupArgs),
    /// Manage the local certificate store (import, list, remove).
    Store(directory::StoreCommandArgs),
}

#[derive(Args)]
struct DemoArgs {
    /// Keep the generated files (ca.pem, alice.pem, bob.pem, signed.eml, sealed.eml) in
    /// this directory (created if needed) instead of a temporary one deleted at the end.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

#[derive(Args)]
struct Io {
    /// Input file (default: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
    /// Output file (default: standard output). Never left partial: written in full, or
    /// not at all when the command fails.
    #[arg(long = "out", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Stream the message in bounded memory (automatic for input files of 8 MiB or
    /// more); a progress bar is shown when standard error is a terminal.
    #[arg(long)]
    stream: bool,
}

#[derive(Args)]
struct PinArgs {
    /// Read the identity's password/PIN from this environment variable (default: prompt).
    #[arg(long = "pin-env", value_name = "VAR")]
    pin_env: Option<String>,
    /// The PKCS#11 module for `pkcs11:` identities (a URI's `module-path` wins).
    #[arg(long = "module", value_name = "PATH", env = "MSS_PKCS11_MODULE")]
    module: Option<PathBuf>,
}

#[derive(Args)]
struct SignArgs {
    /// The signer's identity: a PKCS#12 or PEM file, or a card as a `pkcs11:` URI
    /// (e.g. `pkcs11:token=CPS` with --module).
    #[arg(long, value_name = "ID", required_unless_present = "keystore")]
    identity: Option<String>,
    /// A key store: it cannot sign (it holds the confidentiality key only); with
    /// --recovery-env or without --identity, `sign` refuses (exit 16).
    #[arg(long, value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// The degraded mode's recovery secret variable: signing needs the card (exit 16).
    #[arg(long = "recovery-env", value_name = "VAR", requires = "keystore")]
    recovery_env: Option<String>,
    /// Opaque signature (application/pkcs7-mime) instead of multipart/signed.
    #[arg(long)]
    opaque: bool,
    /// Digest: sha256 (default), sha384, sha512, sha224; sha1 and md5 need --allow-legacy.
    #[arg(long, value_name = "NAME", default_value = "sha256")]
    digest: String,
    /// Sign with RSA-PSS instead of PKCS#1 v1.5.
    #[arg(long)]
    pss: bool,
    /// Allow producing historic algorithms (SHA-1, 3DES…). Use only for old correspondents.
    #[arg(long)]
    allow_legacy: bool,
    #[command(flatten)]
    receipt: receipt::RequestReceiptArgs,
    #[command(flatten)]
    hp: receipt::ProtectArgs,
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Args)]
struct EncryptArgs {
    /// A recipient's certificate (PEM or DER). Repeat for several recipients.
    /// At least one --to or --to-address.
    #[arg(
        long = "to",
        value_name = "CERT",
        required_unless_present = "to_address"
    )]
    to: Vec<PathBuf>,
    /// A recipient's e-mail address, resolved in the local store then the directory
    /// (--ldap); repeatable, mixes with --to. A missing certificate stops the send
    /// (exit 15) naming every missing address; nothing is written.
    #[arg(long = "to-address", value_name = "ADDRESS")]
    to_address: Vec<String>,
    /// What to tell the user about missing certificates (default: how to obtain them).
    #[arg(long = "missing-guidance", value_name = "TEXT")]
    missing_guidance: Option<String>,
    #[command(flatten)]
    ldap: directory::LdapArgs,
    #[command(flatten)]
    store: directory::StoreArgs,
    /// Sign first with this identity (PKCS#12 or PEM file, or a `pkcs11:` URI); its
    /// certificate (a card's decryption certificate) also receives a copy.
    #[arg(long = "sign-with", value_name = "ID")]
    sign_with: Option<String>,
    /// Your own encryption certificate, so that the sent copy stays readable by you
    /// (required without --sign-with; with it, defaults to the signer's certificate).
    #[arg(long = "sender-cert", value_name = "CERT")]
    sender_cert: Option<PathBuf>,
    /// Content cipher: aes-256-cbc (default), aes-192-cbc, aes-128-cbc, aes-128-gcm,
    /// aes-256-gcm, and the historic des-ede3-cbc (3des), des-cbc (des), rc2-40, rc2-64,
    /// rc2-128, rc4 (these need --allow-legacy).
    #[arg(long, value_name = "NAME", default_value = "aes-256-cbc")]
    cipher: String,
    /// Wrap the content key with RSA-OAEP (SHA-256) instead of PKCS#1 v1.5.
    #[arg(long)]
    oaep: bool,
    /// Key transport by name: rsa-pkcs1v15, rsa-oaep-sha1, rsa-oaep-sha256 (overrides --oaep).
    #[arg(long = "key-transport", value_name = "NAME")]
    key_transport: Option<String>,
    /// Digest for --sign-with.
    #[arg(long, value_name = "NAME", default_value = "sha256")]
    digest: String,
    /// Sign with RSA-PSS (with --sign-with).
    #[arg(long)]
    pss: bool,
    /// Allow producing historic algorithms (3DES, SHA-1…).
    #[arg(long)]
    allow_legacy: bool,
    #[command(flatten)]
    receipt: receipt::RequestReceiptArgs,
    #[command(flatten)]
    hp: receipt::ProtectArgs,
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Args)]
struct OpenArgs {
    /// Your identity (PKCS#12 or PEM file, or a `pkcs11:` URI), to decrypt. Repeatable.
    #[arg(long, value_name = "ID")]
    identity: Vec<String>,
    /// A trusted authority's certificate(s): PEM (possibly several), DER, a PKCS#7
    /// bundle (.p7b), or a directory of such files. Repeatable.
    #[arg(long, value_name = "CA_FILE")]
    trust: Vec<PathBuf>,
    /// Extra (intermediate) certificates to build chains with. Repeatable.
    #[arg(long = "cert", value_name = "CERT")]
    certs: Vec<PathBuf>,
    /// Write the JSON report here.
    #[arg(long = "report-json", value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Also accept what the standard policy refuses to read (MD5 signatures…); historic
    /// algorithms are still reported as `weak-algorithm` warnings.
    #[arg(long)]
    allow_legacy: bool,
    /// Decrypt with the confidentiality key of this key store, unlocked by the first
    /// --identity (holder or active delegate) or by --recovery-env; each use is
    /// recorded in the store's audit log with the message's Message-ID.
    #[arg(long, value_name = "FILE")]
    keystore: Option<PathBuf>,
    /// Degraded mode (no card): unlock --keystore with the recovery secret read from
    /// this environment variable. Signatures are still verified.
    #[arg(long = "recovery-env", value_name = "VAR", requires = "keystore")]
    recovery_env: Option<String>,
    #[command(flatten)]
    trust_opts: trust::TrustArgs,
    /// With --ldap, CRLs at `ldap://` distribution points are fetched from the
    /// directory (and revocation checking defaults to `crl`).
    #[command(flatten)]
    ldap: directory::LdapArgs,
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    pin: PinArgs,
}

/// A CLI failure: message for stderr and exit code.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<mss::Error> for Failure {
    fn from(e: mss::Error) -> Self {
        let code = match &e {
            mss::Error::NotARecipient { .. } | mss::Error::DecryptionFailed => exit::CANNOT_DECRYPT,
            mss::Error::Malformed(_) | mss::Error::Unsupported(_) => exit::MALFORMED,
            mss::Error::PolicyViolation { .. } => exit::POLICY,
            mss::Error::UnresolvedRecipients(u) if !u.missing().is_empty() => {
                exit::MISSING_RECIPIENTS
            }
            mss::Error::UnresolvedRecipients(u) if !u.unreachable().is_empty() => {
                exit::DIRECTORY_UNREACHABLE
            }
            _ => exit::FAILURE,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<TokenError> for Failure {
    fn from(e: TokenError) -> Self {
        Failure::new(exit::FAILURE, format!("identity: {e}"))
    }
}

/// Password source: an environment variable, or a prompt on the terminal.
///
/// [`PinSource`] can only answer [`TokenError::Cancelled`]; the reason (variable not
/// set, no terminal) is kept here so that the user is told what to do.
struct CliPin {
    env: Option<String>,
    problem: std::sync::Mutex<Option<String>>,
}

impl CliPin {
    fn new(env: Option<String>) -> Self {
        CliPin {
            env,
            problem: std::sync::Mutex::new(None),
        }
    }

    fn fail(&self, why: String) -> TokenError {
        if let Ok(mut p) = self.problem.lock() {
            *p = Some(why);
        }
        TokenError::Cancelled
    }

    /// Why the last request was refused, if the source refused it.
    fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }
}

impl PinSource for CliPin {
    fn pin(&self, request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        if let Some(var) = &self.env {
            return match std::env::var(var) {
                Ok(v) => Ok(Zeroizing::new(v)),
                Err(std::env::VarError::NotPresent) => Err(self.fail(format!(
                    "--pin-env {var}: the environment variable {var} is not set"
                ))),
                Err(std::env::VarError::NotUnicode(_)) => Err(self.fail(format!(
                    "--pin-env {var}: the environment variable {var} is not valid UTF-8"
                ))),
            };
        }
        let prompt = match request.retries_left {
            Some(1) => format!("{} (last try before the PIN locks): ", request.what),
            Some(n) => format!("{} ({n} tries left): ", request.what),
            None => format!("{}: ", request.what),
        };
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| {
                self.fail(format!(
                    "cannot ask for the {} on a terminal ({e}); give it with --pin-env VAR",
                    request.what
                ))
            })
    }
}

fn read_input(path: &Option<PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    match path {
        Some(p) => {
            buf = std::fs::read(p).map_err(|e| {
                Failure::new(exit::FAILURE, format!("cannot read {}: {e}", p.display()))
            })?
        }
        None => {
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                Failure::new(exit::FAILURE, format!("cannot read standard input: {e}"))
            })?;
        }
    }
    Ok(buf)
}

/// An output file written in full beside its destination, not yet in place.
struct Staged {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

/// Write `data` to a temporary file in the destination's directory.
fn stage(path: &Path, data: &[u8]) -> Result<Staged, Failure> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot write in {}: {e}", dir.display()),
        )
    })?;
    tmp.write_all(data).and_then(|_| tmp.flush()).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot write {}: {e}", path.display()),
        )
    })?;
    Ok(Staged {
        tmp,
        path: path.to_path_buf(),
    })
}

impl Staged {
    /// Rename the complete file into place.
    fn persist(self) -> Result<(), Failure> {
        let path = self.path;
        self.tmp.persist(&path).map_err(|e| {
            Failure::new(
                exit::FAILURE,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
        Ok(())
    }
}

fn write_stdout(data: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(data)
        .and_then(|_| out.flush())
        .map_err(|e| Failure::new(exit::FAILURE, format!("cannot write standard output: {e}")))
}

/// Write the whole output at once: to a temporary file renamed into place, so that a
/// failed command never leaves a partial output file.
fn write_output(path: &Option<PathBuf>, data: &[u8]) -> Result<(), Failure> {
    match path {
        Some(p) => stage(p, data)?.persist(),
        None => write_stdout(data),
    }
}

/// Open an identity: a PKCS#12 / PEM file, or a card named by a `pkcs11:` URI (through
/// `--module` / `MSS_PKCS11_MODULE` unless the URI names its module).
fn load_identity(spec: &str, pin: &PinArgs) -> Result<Box<dyn Identity>, Failure> {
    let pins = CliPin::new(pin.pin_env.clone());
    mss_token::open_identity(spec, pin.module.as_deref(), &pins).map_err(|e| {
        let why = match (&e, pins.problem()) {
            (CardError::Token(TokenError::Cancelled) | CardError::PinCancelled, Some(problem)) => {
                problem
            }
            _ => e.to_string(),
        };
        Failure::new(exit::FAILURE, format!("cannot open identity {spec}: {why}"))
    })
}

/// A card that cannot do what is asked (no signing or decryption key).
fn card_failure(e: CardError) -> Failure {
    Failure::new(exit::FAILURE, format!("identity: {e}"))
}

/// The `CERTIFICATE` blocks of a PEM text, each from its BEGIN line to its END line.
/// Other blocks (a private key in an identity file, CRLs…) and text between blocks are
/// skipped.
fn certificate_blocks(data: &[u8]) -> Vec<&[u8]> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let mut blocks = Vec::new();
    let mut rest = data;
    while let Some(start) = find(rest, BEGIN) {
        let from = &rest[start..];
        let Some(end) = find(from, END) else { break };
        blocks.push(&from[..end + END.len()]);
        rest = &from[end + END.len()..];
    }
    blocks
}

/// Read one or more certificates from a PEM file (a bundle, or an identity whose key is
/// ignored) or a DER file.
fn load_certs(path: &Path) -> Result<Vec<Certificate>, Failure> {
    use der::{Decode, DecodePem};
    let data = std::fs::read(path).map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let bad = |e: der::Error| {
        Failure::new(
            exit::FAILURE,
            format!("{}: not a certificate: {e}", path.display()),
        )
    };
    let blocks = certificate_blocks(&data);
    if blocks.is_empty() {
        // Not PEM with certificates: DER, or an error that says why.
        return Ok(vec![Certificate::from_der(&data).map_err(bad)?]);
    }
    blocks
        .into_iter()
        .map(|b| Certificate::from_pem(b).map_err(bad))
        .collect()
}

fn load_one_cert(path: &Path) -> Result<Certificate, Failure> {
    load_certs(path)?.into_iter().next().ok_or_else(|| {
        Failure::new(
            exit::FAILURE,
            format!("{}: no certificate found", path.display()),
        )
    })
}

fn policy(allow_legacy: bool) -> &'static dyn Policy {
    static STANDARD: StandardPolicy = StandardPolicy;
    static LEGACY: LegacyPolicy = LegacyPolicy;
    if allow_legacy { &LEGACY } else { &STANDARD }
}

fn parse_digest(s: &str) -> Result<DigestAlgorithm, Failure> {
    DigestAlgorithm::from_name(s)
        .map_err(|e| Failure::new(exit::USAGE, format!("--digest {s}: {e}")))
}

fn sign_cmd(a: SignArgs) -> Result<(), Failure> {
    keystore::check_sign(
        a.keystore.as_deref(),
        a.recovery_env.as_deref(),
        a.identity.as_deref(),
    )?;
    let spec = a
        .identity
        .as_deref()
        .ok_or_else(|| Failure::new(exit::USAGE, "--identity ID is required"))?;
    let msg = receipt::message_options(&a.hp, &a.receipt);
    let stream = streaming::wanted(&a.io);
    let input = if stream {
        Vec::new()
    } else {
        read_input(&a.io.input)?
    };
    let digest = parse_digest(&a.digest)?;
    let id = load_identity(spec, &a.pin)?;
    let opts = mss::SignOptions {
        opaque: a.opaque,
        digest,
        scheme: if a.pss {
            SignatureScheme::RsaPss
        } else {
            SignatureScheme::RsaPkcs1v15
        },
        policy: policy(a.allow_legacy),
    };
    if stream {
        let signer = id.signing_key().map_err(card_failure)?;
        return streaming::sign(&a.io, signer, &opts, &msg);
    }
    let out = mss::sign_message(&input, id.signing_key().map_err(card_failure)?, &opts, &msg)?;
    write_output(&a.io.output, &out)
}

const SENDER_NEEDED: &str = "the sender's own certificate is always a recipient, so that the sent copy stays readable: give --sender-cert CERT (or --sign-with ID)";

fn encrypt_cmd(a: EncryptArgs) -> Result<(), Failure> {
    // Usage errors first: before waiting on standard input or asking for a password.
    if a.sign_with.is_none() && a.sender_cert.is_none() {
        return Err(Failure::new(exit::USAGE, SENDER_NEEDED));
    }
    if a.sign_with.is_none() && a.receipt.request_receipt {
        return Err(Failure::new(
            exit::USAGE,
            "--request-receipt needs a signature: add --sign-with ID",
        ));
    }
    let msg = receipt::message_options(&a.hp, &a.receipt);
    let cipher = ContentCipher::from_name(&a.cipher)
        .map_err(|e| Failure::new(exit::USAGE, format!("--cipher {}: {e}", a.cipher)))?;
    let key_transport = match &a.key_transport {
        Some(n) => KeyTransport::from_name(n)
            .map_err(|e| Failure::new(exit::USAGE, format!("--key-transport {n}: {e}")))?,
        None if a.oaep => KeyTransport::RsaOaep {
            hash: DigestAlgorithm::Sha256,
        },
        None => KeyTransport::RsaPkcs1v15,
    };
    let mut recipients = Vec::new();
    for p in &a.to {
        recipients.push(load_one_cert(p)?);
    }
    recipients.extend(directory::resolve_addresses(
        &a.to_address,
        &a.ldap,
        &a.store,
        a.missing_guidance.as_deref(),
    )?);
    let sender_cert = a.sender_cert.as_deref().map(load_one_cert).transpose()?;
    let stream = streaming::wanted(&a.io);
    let input = if stream {
        Vec::new()
    } else {
        read_input(&a.io.input)?
    };
    let pol = policy(a.allow_legacy);
    let sign = mss::SignOptions {
        opaque: false,
        digest: parse_digest(&a.digest)?,
        scheme: if a.pss {
            SignatureScheme::RsaPss
        } else {
            SignatureScheme::RsaPkcs1v15
        },
        policy: pol,
    };
    // The facade's option structs grow fields (key agreement, KEK keys…): the CLI
    // takes their defaults for what it has no flag for.
    #[allow(clippy::needless_update)]
    let opts = mss::EncryptOptions {
        cipher,
        key_transport,
        sign,
        policy: pol,
        ..Default::default()
    };
    let out = match &a.sign_with {
        Some(idp) => {
            let id = load_identity(idp, &a.pin)?;
            let signer = id.signing_key().map_err(card_failure)?;
            // The sent copy goes to --sender-cert, else to the identity's decryption
            // certificate (a card's is not its signing one), else to the signer's.
            let own = match &sender_cert {
                Some(c) => Some(c.clone()),
                None => match id.decryption_key() {
                    Ok(k) => Some(k.certificate().clone()),
                    Err(_) => None,
                },
            };
            if stream {
                let own = own.as_ref();
                return streaming::encrypt(&a.io, Some(signer), &recipients, own, &opts, &msg);
            }
            mss::sign_and_encrypt_message(&input, signer, &recipients, own.as_ref(), &opts, &msg)?
        }
        None => {
            let sender = sender_cert.ok_or_else(|| Failure::new(exit::USAGE, SENDER_NEEDED))?;
            if stream {
                let sender = Some(&sender);
                return streaming::encrypt(&a.io, None, &recipients, sender, &opts, &msg);
            }
            mss::encrypt_message(&input, &recipients, &sender, &opts, &msg)?
        }
    };
    write_output(&a.io.output, &out)
}

fn open_cmd(a: OpenArgs) -> Result<u8, Failure> {
    let stream = streaming::wanted(&a.io);
    let input = if stream {
        streaming::head(&a.io.input)
    } else {
        read_input(&a.io.input)?
    };
    let ids = inputs::identities(&a.identity, &a.pin)?;
    let anchors = inputs::anchors(&a.trust)?;
    let extra = inputs::extra_certs(&a.certs)?;
    let session = match &a.keystore {
        Some(p) => Some(keystore::open_session(
            p,
            ids.first().map(|b| b.as_ref()),
            a.recovery_env.as_deref(),
        )?),
        None => None,
    };
    let mut keys = Vec::with_capacity(ids.len());
    if let Some(s) = &session {
        s.set_message_id(keystore::message_id(&input).as_deref());
        keys.extend(s.decryption_keys());
    }
    keys.extend(inputs::decryption_keys(ids.iter().map(|b| b.as_ref()))?);
    let http = mss::trust::HttpFetcher::default();
    let ldap = a.ldap.directory()?;
    let mut sources: Vec<&(dyn mss::trust::CrlFetcher + Sync)> = vec![&http];
    if let Some(l) = &ldap {
        sources.push(l);
    }
    let fetchers = mss::trust::Fetchers(sources);
    #[allow(clippy::needless_update)]
    let mut opts = mss::OpenOptions {
        keys,
        trust_anchors: anchors,
        extra_certs: extra,
        policy: policy(a.allow_legacy),
        time: None,
        ..Default::default()
    };
    trust::apply(&a.trust_opts, &http, &fetchers, ldap.is_some(), &mut opts)?;
    if stream {
        let (report, output) = streaming::open(&a.io, &opts)?;
        let report_file = inputs::stage_json(a.report_json.as_deref(), || {
            serde_json::to_vec_pretty(&report.to_json())
        })?;
        eprint!("{}", demo::summary(&report));
        if let Some(f) = report_file {
            f.persist()?;
        }
        output.commit()?;
        return Ok(exit::for_report(&report));
    }
    let opened = mss::open(&input, &opts).map_err(|e| match e {
        // Opening, a failing key operation (card, PIN) means: cannot decrypt.
        mss::Error::Key(_) => Failure::new(exit::CANNOT_DECRYPT, e.to_string()),
        other => other.into(),
    })?;
    let report = &opened.report;
    // Both files are written in full before either is put in place: a failure leaves
    // neither the report nor the message behind.
    let report_file = inputs::stage_json(a.report_json.as_deref(), || {
        serde_json::to_vec_pretty(&report.to_json())
    })?;
    let message_file = match &a.io.output {
        Some(p) => Some(stage(p, &opened.message)?),
        None => None,
    };
    eprint!("{}", demo::summary(report));
    if let Some(f) = report_file {
        f.persist()?;
    }
    match message_file {
        Some(f) => f.persist()?,
        None => write_stdout(&opened.message)?,
    }
    Ok(exit::for_report(report))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(a) => sign_cmd(a).map(|_| exit::OK),
        Command::Encrypt(a) => encrypt_cmd(*a).map(|_| exit::OK),
        Command::Open(a) => open_cmd(a),
        Command::Demo(a) => demo::run(a.dir.as_deref()).map(|_| exit::OK),
        Command::Keystore(a) => keystore::run_keystore(a).map(|_| exit::OK),
        Command::Delegate(a) => keystore::run_delegate(a).map(|_| exit::OK),
        Command::Receipt(c) => receipt::run(c),
        Command::Mdn(c) => mdn::run(c),
        Command::Lookup(a) => directory::lookup_cmd(a),
        Command::Store(a) => directory::store_cmd(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("mss: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

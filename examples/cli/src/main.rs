//! `mss` — sign, encrypt and open S/MIME mail from the command line.
//!
//! The verbs and flags are a contract for scripts: flags are added, never renamed.
//! Exit codes are documented in [`exit`] and in the README.
#![forbid(unsafe_code)]

mod demo;
mod exit;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use zeroize::Zeroizing;

use mss::{
    Certificate, ContentCipher, DigestAlgorithm, KeyTransport, LegacyPolicy, Policy,
    SignatureScheme, StandardPolicy,
};
use mss_token::{PinRequest, PinSource, SoftwareIdentity, TokenError};

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
    Encrypt(EncryptArgs),
    /// Open a received message: decrypt, verify, report.
    Open(OpenArgs),
    /// Show the whole journey with throwaway identities.
    Demo,
}

#[derive(Args)]
struct Io {
    /// Input file (default: standard input).
    #[arg(long = "in")]
    input: Option<PathBuf>,
    /// Output file (default: standard output). Written only when the command succeeds.
    #[arg(long = "out")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct PinArgs {
    /// Read the identity's password/PIN from this environment variable (default: prompt).
    #[arg(long = "pin-env", value_name = "VAR")]
    pin_env: Option<String>,
}

#[derive(Args)]
struct SignArgs {
    /// The signer's identity: a PKCS#12 or PEM file.
    #[arg(long, value_name = "ID")]
    identity: PathBuf,
    /// Opaque signature (application/pkcs7-mime) instead of multipart/signed.
    #[arg(long)]
    opaque: bool,
    /// Digest: sha256 (default), sha384, sha512, sha224; sha1 needs --allow-legacy.
    #[arg(long, default_value = "sha256")]
    digest: String,
    /// Sign with RSA-PSS instead of PKCS#1 v1.5.
    #[arg(long)]
    pss: bool,
    /// Allow producing historic algorithms (SHA-1, 3DES…). Use only for old correspondents.
    #[arg(long)]
    allow_legacy: bool,
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Args)]
struct EncryptArgs {
    /// A recipient's certificate (PEM or DER). Repeat for several recipients.
    #[arg(long = "to", value_name = "CERT", required = true)]
    to: Vec<PathBuf>,
    /// Sign first with this identity (PKCS#12 or PEM); its certificate also receives a copy.
    #[arg(long = "sign-with", value_name = "ID")]
    sign_with: Option<PathBuf>,
    /// Your own encryption certificate, so that the sent copy stays readable by you
    /// (required without --sign-with; with it, defaults to the signer's certificate).
    #[arg(long = "sender-cert", value_name = "CERT")]
    sender_cert: Option<PathBuf>,
    /// Content cipher: aes-256-cbc (default), aes-192-cbc, aes-128-cbc, aes-128-gcm,
    /// aes-256-gcm, des-ede3-cbc (needs --allow-legacy).
    #[arg(long, default_value = "aes-256-cbc")]
    cipher: String,
    /// Wrap the content key with RSA-OAEP (SHA-256) instead of PKCS#1 v1.5.
    #[arg(long)]
    oaep: bool,
    /// Key transport by name: rsa-pkcs1v15, rsa-oaep-sha1, rsa-oaep-sha256 (overrides --oaep).
    #[arg(long = "key-transport")]
    key_transport: Option<String>,
    /// Digest for --sign-with.
    #[arg(long, default_value = "sha256")]
    digest: String,
    /// Sign with RSA-PSS (with --sign-with).
    #[arg(long)]
    pss: bool,
    /// Allow producing historic algorithms (3DES, SHA-1…).
    #[arg(long)]
    allow_legacy: bool,
    #[command(flatten)]
    io: Io,
    #[command(flatten)]
    pin: PinArgs,
}

#[derive(Args)]
struct OpenArgs {
    /// Your identity (PKCS#12 or PEM), to decrypt. Repeatable.
    #[arg(long, value_name = "ID")]
    identity: Vec<PathBuf>,
    /// A trusted authority's certificate(s) (PEM, possibly several, or DER). Repeatable.
    #[arg(long, value_name = "CA_FILE")]
    trust: Vec<PathBuf>,
    /// Extra (intermediate) certificates to build chains with. Repeatable.
    #[arg(long = "cert", value_name = "CERT")]
    certs: Vec<PathBuf>,
    /// Write the JSON report here.
    #[arg(long = "report-json", value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Accept historic algorithms without reservation (MD5 signatures…).
    #[arg(long)]
    allow_legacy: bool,
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
            mss::Error::NotARecipient { .. }
            | mss::Error::DecryptionFailed
            | mss::Error::Key(_) => exit::CANNOT_DECRYPT,
            mss::Error::Malformed(_) | mss::Error::Unsupported(_) => exit::MALFORMED,
            mss::Error::PolicyViolation { .. } => exit::POLICY,
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
struct CliPin {
    env: Option<String>,
}

impl PinSource for CliPin {
    fn pin(&self, request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        if let Some(var) = &self.env {
            return std::env::var(var)
                .map(Zeroizing::new)
                .map_err(|_| TokenError::Cancelled);
        }
        rpassword::prompt_password(format!("{}: ", request.what))
            .map(Zeroizing::new)
            .map_err(|_| TokenError::Cancelled)
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

/// Write the whole output at once: to a temporary file renamed into place, so that a
/// failed command never leaves a partial output file.
fn write_output(path: &Option<PathBuf>, data: &[u8]) -> Result<(), Failure> {
    match path {
        Some(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
                Failure::new(
                    exit::FAILURE,
                    format!("cannot write in {}: {e}", dir.display()),
                )
            })?;
            tmp.write_all(data).map_err(|e| {
                Failure::new(exit::FAILURE, format!("cannot write {}: {e}", p.display()))
            })?;
            tmp.persist(p).map_err(|e| {
                Failure::new(exit::FAILURE, format!("cannot write {}: {e}", p.display()))
            })?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(data).and_then(|_| out.flush()).map_err(|e| {
                Failure::new(exit::FAILURE, format!("cannot write standard output: {e}"))
            })?;
        }
    }
    Ok(())
}

fn load_identity(path: &Path, pin: &PinArgs) -> Result<SoftwareIdentity, Failure> {
    SoftwareIdentity::load(
        path,
        &CliPin {
            env: pin.pin_env.clone(),
        },
    )
    .map_err(|e| {
        Failure::new(
            exit::FAILURE,
            format!("cannot open identity {}: {e}", path.display()),
        )
    })
}

/// Read one or more certificates from a PEM (possibly a bundle) or DER file.
fn load_certs(path: &Path) -> Result<Vec<Certificate>, Failure> {
    use der::Decode;
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
    if data
        .windows(27)
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        let certs = Certificate::load_pem_chain(&data).map_err(bad)?;
        if certs.is_empty() {
            return Err(Failure::new(
                exit::FAILURE,
                format!("{}: no certificate found", path.display()),
            ));
        }
        Ok(certs)
    } else {
        Ok(vec![Certificate::from_der(&data).map_err(bad)?])
    }
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
    let input = read_input(&a.io.input)?;
    let id = load_identity(&a.identity, &a.pin)?;
    let opts = mss::SignOptions {
        opaque: a.opaque,
        digest: parse_digest(&a.digest)?,
        scheme: if a.pss {
            SignatureScheme::RsaPss
        } else {
            SignatureScheme::RsaPkcs1v15
        },
        policy: policy(a.allow_legacy),
    };
    let out = mss::sign(&input, &id, &opts)?;
    write_output(&a.io.output, &out)
}

fn encrypt_cmd(a: EncryptArgs) -> Result<(), Failure> {
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
    let sender_cert = a.sender_cert.as_deref().map(load_one_cert).transpose()?;
    let input = read_input(&a.io.input)?;
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
    let opts = mss::EncryptOptions {
        cipher,
        key_transport,
        sign,
        policy: pol,
    };
    let out = match &a.sign_with {
        Some(idp) => {
            let id = load_identity(idp, &a.pin)?;
            mss::sign_and_encrypt(&input, &id, &recipients, sender_cert.as_ref(), &opts)?
        }
        None => {
            let sender = sender_cert.ok_or_else(|| Failure::new(exit::USAGE, "the sender's own certificate is always a recipient, so that the sent copy stays readable: give --sender-cert CERT (or --sign-with ID)"))?;
            mss::encrypt(&input, &recipients, &sender, &opts)?
        }
    };
    write_output(&a.io.output, &out)
}

fn open_cmd(a: OpenArgs) -> Result<u8, Failure> {
    let input = read_input(&a.io.input)?;
    let mut ids = Vec::new();
    for p in &a.identity {
        ids.push(load_identity(p, &a.pin)?);
    }
    let mut anchors = Vec::new();
    for p in &a.trust {
        anchors.extend(load_certs(p)?);
    }
    let mut extra = Vec::new();
    for p in &a.certs {
        extra.extend(load_certs(p)?);
    }
    let opts = mss::OpenOptions {
        keys: ids.iter().map(|i| i as &dyn mss::DecryptionKey).collect(),
        trust_anchors: anchors,
        extra_certs: extra,
        policy: policy(a.allow_legacy),
        time: None,
    };
    let opened = mss::open(&input, &opts)?;
    let report = &opened.report;
    if let Some(p) = &a.report_json {
        let json = serde_json::to_vec_pretty(&report.to_json())
            .map_err(|e| Failure::new(exit::FAILURE, e.to_string()))?;
        write_output(&Some(p.clone()), &json)?;
    }
    eprint!("{}", demo::summary(report));
    let code = exit::for_report(report);
    write_output(&a.io.output, &opened.message)?;
    Ok(code)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sign(a) => sign_cmd(a).map(|_| exit::OK),
        Command::Encrypt(a) => encrypt_cmd(a).map(|_| exit::OK),
        Command::Open(a) => open_cmd(a),
        Command::Demo => demo::run().map(|_| exit::OK),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("mss: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

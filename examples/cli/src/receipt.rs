//! `mss receipt create|verify` (ESS signed receipts, RFC 2634), the `--request-receipt`
//! and `--protect-headers` flags of `mss sign|encrypt`, and what `mss mdn` shares with
//! them (opening options).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use mss::{MessageOptions, ProtectHeaders, ReceiptStatus, ReceiptsFromSpec, RequestReceipt};
use mss_token::Identity;

use crate::{
    Failure, Io, PinArgs, card_failure, exit, inputs, load_identity, parse_digest, policy,
    read_input, write_output,
};

/// `--request-receipt` and its options (on `mss sign` and `mss encrypt --sign-with`).
#[derive(Args, Debug, Default)]
pub struct RequestReceiptArgs {
    /// Ask the recipients for an ESS signed receipt (RFC 2634 receiptRequest).
    #[arg(long = "request-receipt")]
    pub request_receipt: bool,
    /// Where receipts go (repeatable; default: the draft's From address).
    #[arg(long = "receipt-to", value_name = "ADDR", requires = "request_receipt")]
    pub receipt_to: Vec<String>,
    /// Only these recipients should answer (repeatable; default: every recipient).
    #[arg(
        long = "receipt-from",
        value_name = "ADDR",
        requires = "request_receipt"
    )]
    pub receipt_from: Vec<String>,
    /// Only first-tier recipients should answer (not mailing-list members).
    #[arg(
        long = "receipt-from-first-tier",
        requires = "request_receipt",
        conflicts_with = "receipt_from"
    )]
    pub first_tier: bool,
}

/// `--protect-headers` / `--no-protect-headers` (RFC 9788).
#[derive(Args, Debug, Default)]
pub struct ProtectArgs {
    /// Protect the header fields (RFC 9788): always on when encrypting (the outer
    /// Subject becomes "[...]"); on `mss sign`, signs a copy of them (hp="clear").
    #[arg(long = "protect-headers")]
    pub protect_headers: bool,
    /// Do not protect the header fields, even when encrypting (the RFC 8551 layout:
    /// Subject, From, To outside, in clear and unsigned).
    #[arg(long = "no-protect-headers", conflicts_with = "protect_headers")]
    pub no_protect_headers: bool,
}

/// The facade's message options for these flags.
pub fn message_options(hp: &ProtectArgs, rr: &RequestReceiptArgs) -> MessageOptions {
    MessageOptions {
        protect_headers: if hp.no_protect_headers {
            ProtectHeaders::Never
        } else if hp.protect_headers {
            ProtectHeaders::Always
        } else {
            ProtectHeaders::WhenEncrypting
        },
        receipt_request: rr.request_receipt.then(|| RequestReceipt {
            from: if rr.first_tier {
                ReceiptsFromSpec::FirstTier
            } else if rr.receipt_from.is_empty() {
                ReceiptsFromSpec::All
            } else {
                ReceiptsFromSpec::Only(rr.receipt_from.clone())
            },
            to: rr.receipt_to.clone(),
        }),
    }
}

/// An identity, trust anchors and extra certificates, as loaded from the flags.
pub type Loaded = (
    Box<dyn Identity>,
    Vec<mss::Certificate>,
    Vec<mss::Certificate>,
);

/// What `mss receipt` and `mss mdn` need to open a message.
#[derive(Args)]
pub struct OpenWith {
    /// Your identity (PKCS#12 or PEM file, or a `pkcs11:` URI): signs what you send back,
    /// and decrypts the message when it is encrypted.
    #[arg(long, value_name = "ID")]
    pub identity: String,
    /// A trusted authority's certificate(s). Repeatable.
    #[arg(long, value_name = "CA_FILE")]
    pub trust: Vec<PathBuf>,
    /// Extra (intermediate) certificates to build chains with. Repeatable.
    #[arg(long = "cert", value_name = "CERT")]
    pub certs: Vec<PathBuf>,
    /// Accept and produce historic algorithms.
    #[arg(long)]
    pub allow_legacy: bool,
    /// Digest for the signature you produce.
    #[arg(long, value_name = "NAME", default_value = "sha256")]
    pub digest: String,
    #[command(flatten)]
    pub pin: PinArgs,
}

impl OpenWith {
    /// The identity, the trust anchors and the extra certificates.
    pub fn load(&self) -> Result<Loaded, Failure> {
        let id = load_identity(&self.identity, &self.pin)?;
        let anchors = inputs::anchors(&self.trust)?;
        let extra = inputs::extra_certs(&self.certs)?;
        Ok((id, anchors, extra))
    }

    /// Signing options for what is sent back.
    pub fn sign_options(&self) -> Result<mss::SignOptions<'static>, Failure> {
        Ok(mss::SignOptions {
            digest: parse_digest(&self.digest)?,
            policy: policy(self.allow_legacy),
            ..Default::default()
        })
    }
}

/// Open options with the identity's decryption key (failing to load it is an error).
pub fn open_options<'a>(
    id: &'a dyn Identity,
    anchors: Vec<mss::Certificate>,
    extra: Vec<mss::Certificate>,
    allow_legacy: bool,
) -> Result<mss::OpenOptions<'a>, Failure> {
    let keys = inputs::decryption_keys([id])?;
    Ok(inputs::open_options(keys, anchors, extra, allow_legacy))
}

/// `mss receipt …`
#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Answer a receipt request: open the received message (--in), check its signature,
    /// and write the signed receipt to return (--out). The destinations are printed on
    /// standard error.
    Create(ReceiptCreateArgs),
    /// Check a received signed receipt (--in) against the message you sent
    /// (--original). Exit 0 when valid; 10 when invalid or about another message; 11
    /// when its signer is not trusted.
    Verify(ReceiptVerifyArgs),
}

/// `mss receipt create`
#[derive(Args)]
pub struct ReceiptCreateArgs {
    #[command(flatten)]
    open: OpenWith,
    #[command(flatten)]
    io: Io,
}

/// `mss receipt verify`
#[derive(Args)]
pub struct ReceiptVerifyArgs {
    /// The message the receipt acknowledges, as you sent it (your copy).
    #[arg(long, value_name = "FILE")]
    original: PathBuf,
    #[command(flatten)]
    with: VerifyWith,
    /// The receipt (default: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
}

/// What `mss receipt verify` and `mss mdn verify` verify with.
#[derive(Args)]
pub struct VerifyWith {
    /// A trusted authority's certificate(s). Repeatable.
    #[arg(long, value_name = "CA_FILE")]
    pub trust: Vec<PathBuf>,
    /// Extra (intermediate) certificates to build chains with. Repeatable.
    #[arg(long = "cert", value_name = "CERT")]
    pub certs: Vec<PathBuf>,
    /// Your identity, to decrypt what is encrypted (your sent copy, an encrypted
    /// notification). Repeatable.
    #[arg(long, value_name = "ID")]
    pub identity: Vec<String>,
    /// Write the verdict as JSON here.
    #[arg(long = "report-json", value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Accept historic algorithms (with warnings).
    #[arg(long)]
    pub allow_legacy: bool,
    #[command(flatten)]
    pub pin: PinArgs,
}

impl VerifyWith {
    /// The identities of every `--identity`.
    pub fn identities(&self) -> Result<Vec<Box<dyn Identity>>, Failure> {
        inputs::identities(&self.identity, &self.pin)
    }

    /// Open options with the identities' decryption keys, the anchors and the extras.
    pub fn options<'a>(
        &self,
        ids: &'a [Box<dyn Identity>],
    ) -> Result<mss::OpenOptions<'a>, Failure> {
        inputs::verify_options(ids, &self.trust, &self.certs, self.allow_legacy)
    }

    /// Verify an acknowledgement (`mss receipt verify`, `mss mdn verify`): read it
    /// (`input`) and the `original` message, `check` them with these options, write
    /// the JSON verdict, print the line `judge` makes of it, and return its exit code.
    pub fn verify<V: serde::Serialize>(
        &self,
        input: &Option<PathBuf>,
        original: &std::path::Path,
        check: impl FnOnce(&[u8], &[u8], &mss::OpenOptions<'_>) -> Result<V, mss::Error>,
        judge: fn(&V) -> (String, &mss::Report, u8),
    ) -> Result<u8, Failure> {
        let acknowledgement = read_input(input)?;
        let original = read_input(&Some(original.to_path_buf()))?;
        let ids = self.identities()?;
        let opts = self.options(&ids)?;
        let v = check(&acknowledgement, &original, &opts)?;
        let staged = inputs::stage_json(self.report_json.as_deref(), || {
            serde_json::to_vec_pretty(&v)
        })?;
        let (verdict, report, code) = judge(&v);
        inputs::conclude(staged, &verdict, report)?;
        Ok(code)
    }
}

/// ": detail", or nothing.
pub fn detail_suffix(detail: Option<&str>) -> String {
    detail.map(|d| format!(": {d}")).unwrap_or_default()
}

/// Run `mss receipt …`; returns the exit code.
pub fn run(cmd: ReceiptCommand) -> Result<u8, Failure> {
    match cmd {
        ReceiptCommand::Create(a) => create(a).map(|_| exit::OK),
        ReceiptCommand::Verify(a) => verify(a),
    }
}

fn create(a: ReceiptCreateArgs) -> Result<(), Failure> {
    let input = read_input(&a.io.input)?;
    let (id, anchors, extra) = a.open.load()?;
    let sign = a.open.sign_options()?;
    let opts = open_options(id.as_ref(), anchors, extra, a.open.allow_legacy)?;
    let signer = id.signing_key().map_err(card_failure)?;
    let receipt = mss::create_receipt(&input, &opts, signer, &sign)?;
    eprintln!("mss: signed receipt for {}", receipt.receipts_to.join(", "));
    write_output(&a.io.output, &receipt.message)
}

fn status_word(s: ReceiptStatus) -> &'static str {
    match s {
        ReceiptStatus::Valid => "VALID",
        ReceiptStatus::Invalid => "INVALID",
        ReceiptStatus::Untrusted => "UNTRUSTED",
        ReceiptStatus::Unrelated => "UNRELATED",
    }
}

fn verify(a: ReceiptVerifyArgs) -> Result<u8, Failure> {
    a.with
        .verify(&a.input, &a.original, mss::verify_receipt, |v| {
            let verdict = format!(
                "receipt: {}{}",
                status_word(v.status),
                detail_suffix(v.detail.as_deref())
            );
            let code = match v.status {
                ReceiptStatus::Valid => exit::OK,
                ReceiptStatus::Untrusted => exit::UNTRUSTED_SIGNER,
                ReceiptStatus::Invalid | ReceiptStatus::Unrelated => exit::INVALID_SIGNATURE,
            };
            (verdict, &v.report, code)
        })
}

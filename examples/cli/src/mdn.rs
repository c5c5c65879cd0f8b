//! `mss mdn create|verify`: disposition notifications (RFC 8098) as MSSanté uses them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use mss::{DispositionType, MdnOptions, MdnStatus, OriginalPart};

use crate::receipt::{OpenWith, VerifyWith, detail_suffix, open_options};
use crate::{Failure, Io, card_failure, exit, load_one_cert, policy, read_input, write_output};

/// `mss mdn …`
#[derive(Subcommand)]
pub enum MdnCommand {
    /// Answer a received message carrying Disposition-Notification-To (--in) with a
    /// signed disposition notification (--out), encrypted back when the message was
    /// encrypted. A message that cannot be decrypted gets a `processed/error`
    /// notification. The destination is printed on standard error.
    Create(MdnCreateArgs),
    /// Check a received disposition notification (--in) against the message you sent
    /// (--original). Exit 0 when valid (signed by the final recipient, trusted, about
    /// that message); 10 when invalid, unsigned or about another message; 11 when its
    /// signer is not trusted or is not the final recipient.
    Verify(MdnVerifyArgs),
}

/// `mss mdn create`
#[derive(Args)]
pub struct MdnCreateArgs {
    #[command(flatten)]
    open: OpenWith,
    /// The disposition: processed (default), displayed, deleted, dispatched.
    #[arg(long, value_name = "TYPE", default_value = "processed")]
    disposition: String,
    /// Report an error (the disposition gets the `error` modifier and an Error field).
    #[arg(long, value_name = "TEXT")]
    error: Option<String>,
    /// Final-Recipient address (default: your certificate's).
    #[arg(long = "final-recipient", value_name = "ADDR")]
    final_recipient: Option<String>,
    /// Include the whole original message instead of its header section.
    #[arg(long = "full-original")]
    full_original: bool,
    /// The original sender's encryption certificate (default: its signing certificate,
    /// from the message). Repeatable.
    #[arg(long = "to", value_name = "CERT")]
    to: Vec<PathBuf>,
    /// Your own encryption certificate for the sent copy (default: your identity's).
    #[arg(long = "sender-cert", value_name = "CERT")]
    sender_cert: Option<PathBuf>,
    #[command(flatten)]
    io: Io,
}

/// `mss mdn verify`
#[derive(Args)]
pub struct MdnVerifyArgs {
    /// The message the notification is about, as you sent it (your copy).
    #[arg(long, value_name = "FILE")]
    original: PathBuf,
    #[command(flatten)]
    with: VerifyWith,
    /// The notification (default: standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Run `mss mdn …`; returns the exit code.
pub fn run(cmd: MdnCommand) -> Result<u8, Failure> {
    match cmd {
        MdnCommand::Create(a) => create(a).map(|_| exit::OK),
        MdnCommand::Verify(a) => verify(a),
    }
}

fn create(a: MdnCreateArgs) -> Result<(), Failure> {
    let disposition = match a.disposition.to_ascii_lowercase().as_str() {
        "processed" => DispositionType::Processed,
        "displayed" => DispositionType::Displayed,
        "deleted" => DispositionType::Deleted,
        "dispatched" => DispositionType::Dispatched,
        other => {
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "--disposition {other}: expected processed, displayed, deleted or dispatched"
                ),
            ));
        }
    };
    let mut to = Vec::new();
    for p in &a.to {
        to.push(load_one_cert(p)?);
    }
    let sender_cert = a.sender_cert.as_deref().map(load_one_cert).transpose()?;
    let input = read_input(&a.io.input)?;
    let (id, anchors, extra) = a.open.load()?;
    let sign = a.open.sign_options()?;
    let opts = open_options(id.as_ref(), anchors, extra, a.open.allow_legacy)?;
    let signer = id.signing_key().map_err(card_failure)?;
    let own = match sender_cert {
        Some(c) => Some(c),
        None => id.decryption_key().ok().map(|k| k.certificate().clone()),
    };
    #[allow(clippy::needless_update)]
    let mdn_opts = MdnOptions {
        disposition,
        error: a.error.clone(),
        final_recipient: a.final_recipient.clone(),
        original_part: if a.full_original {
            OriginalPart::Full
        } else {
            OriginalPart::Headers
        },
        encrypt: mss::EncryptOptions {
            sign,
            policy: policy(a.open.allow_legacy),
            ..Default::default()
        },
        ..Default::default()
    };
    let mdn = mss::create_mdn(&input, &opts, signer, own.as_ref(), &to, &mdn_opts)?;
    eprintln!(
        "mss: disposition notification for {}{}",
        mdn.to,
        if mdn.encrypted { " (encrypted)" } else { "" }
    );
    write_output(&a.io.output, &mdn.message)
}

fn status_word(s: MdnStatus) -> &'static str {
    match s {
        MdnStatus::Valid => "VALID",
        MdnStatus::Unsigned => "UNSIGNED",
        MdnStatus::Invalid => "INVALID",
        MdnStatus::Untrusted => "UNTRUSTED",
        MdnStatus::Unrelated => "UNRELATED",
    }
}

fn verify(a: MdnVerifyArgs) -> Result<u8, Failure> {
    a.with.verify(&a.input, &a.original, mss::verify_mdn, |v| {
        let verdict = format!(
            "disposition notification: {} — {} by {}{}",
            status_word(v.status),
            v.disposition,
            v.final_recipient,
            detail_suffix(v.detail.as_deref())
        );
        let code = match v.status {
            MdnStatus::Valid => exit::OK,
            MdnStatus::Untrusted => exit::UNTRUSTED_SIGNER,
            MdnStatus::Invalid | MdnStatus::Unsigned | MdnStatus::Unrelated => {
                exit::INVALID_SIGNATURE
            }
        };
        (verdict, &v.report, code)
    })
}

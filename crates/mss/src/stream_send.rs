//! Streaming send with the message-level options of [`crate::MessageOptions`]: RFC 9788
//! header protection and an RFC 2634 receipt request, as [`crate::sign_message`],
//! [`crate::encrypt_message`] and [`crate::sign_and_encrypt_message`] apply them in
//! memory. Re-exported from [`crate::stream`].
//!
//! Header protection touches only the header section of the payload: the draft is read
//! up to its blank line ([`crate::stream::draft_stream`]), the payload's header section
//! is rebuilt by [`header_protection::protect_header_block`] (the one the in-memory
//! path uses), and the body follows unchanged, still streamed. The receipt request is a
//! signed attribute, added when the streamed content has been hashed. Memory stays
//! bounded by the header section (at most 1 MiB) whatever the size of the body.
//!
//! The one difference with the in-memory path is the draft's body encoding: a draft
//! that needs re-encoding to 7 bits is base64-encoded on the fly
//! ([`crate::stream::draft_stream`]) where the in-memory path may choose
//! quoted-printable. The structure (`hp` marking, obscured outer Subject, `HP-Outer`
//! records, receipt request) is the same.

use std::io::{self, BufReader, Read, Write};

use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use mss_algs::keys::SigningKey;
use mss_cms::mime::Headers;
use mss_cms::mime::header_protection::{self, HpMode};

use crate::compose::{MessageOptions, check_no_receipt_request, extra_attributes, hp_mode};
use crate::send::{EncryptOptions, SignOptions};
use crate::stream::{
    Counting, draft_stream, encrypt_stream, io_error, pump, read_header_block,
    sign_and_encrypt_stream_with, sign_stream_with,
};
use crate::{Error, SecurityLevel};

/// Apply header protection (`mode`, none when `None`) to the inner entity read from
/// `entity`: the new outer header section and a reader of the protected entity (its
/// rebuilt header section, then the rest of `entity` as it comes).
fn protect_stream<'r>(
    outer: Headers,
    entity: Box<dyn Read + 'r>,
    mode: Option<HpMode>,
) -> Result<(Headers, Box<dyn Read + 'r>), Error> {
    let Some(mode) = mode else {
        return Ok((outer, entity));
    };
    let mut buffered = BufReader::with_capacity(64 * 1024, entity);
    let block = read_header_block(&mut buffered)?;
    let (outer, block) = header_protection::protect_header_block(&outer, &block, mode)?;
    Ok((outer, Box::new(io::Cursor::new(block).chain(buffered))))
}

/// A draft made ready to send: the outer header section, a reader of the entity to
/// sign or encrypt (headers protected as `msg` asks), the extra signed attributes.
struct Prepared<'r> {
    outer: Headers,
    entity: Box<dyn Read + 'r>,
    extra: Vec<Attribute>,
}

/// Read the draft's header section from `draft` (counted for `progress`) and apply
/// `msg`: header protection for a message `encrypted` or not, and (when `signed`) the
/// receipt request attribute, computed from the draft's own header fields as the
/// in-memory path does.
fn prepare<'r>(
    draft: &'r mut Counting<'_, &mut dyn Read>,
    msg: &MessageOptions,
    encrypted: bool,
    signed: bool,
) -> Result<Prepared<'r>, Error> {
    let (outer, entity) = draft_stream(draft)?;
    let extra = if signed {
        extra_attributes(msg, &outer)?
    } else {
        Vec::new()
    };
    let (outer, entity) = protect_stream(outer, entity, hp_mode(msg, encrypted))?;
    Ok(Prepared {
        outer,
        entity,
        extra,
    })
}

/// Sign a draft (RFC 5322 header fields, blank line, body) read from `draft`, writing
/// the signed message to `out`: the streaming [`crate::sign_message`]. With
/// [`crate::ProtectHeaders::Always`] the headers are protected (`hp="clear"`); with a
/// receipt request the signature carries the `receiptRequest` attribute. `progress`
/// receives the number of draft bytes read so far. A detached signature of a draft
/// declaring a `binary` or `8bit` transfer encoding is refused, as by
/// [`crate::stream::sign_stream`].
pub fn sign_message_stream(
    draft: &mut dyn Read,
    out: &mut dyn Write,
    signer: &dyn SigningKey,
    opts: &SignOptions,
    msg: &MessageOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let mut input = Counting::new(draft, progress);
    let mut p = prepare(&mut input, msg, false, true)?;
    sign_stream_with(
        &mut p.entity,
        out,
        &p.outer,
        signer,
        opts,
        p.extra,
        &mut |_| {},
    )
}

/// Encrypt a draft read from `draft` to `recipients` and the sender, writing the
/// `application/pkcs7-mime` message to `out`: the streaming [`crate::encrypt_message`]
/// (headers protected with `hp="cipher"` unless [`crate::ProtectHeaders::Never`]). A
/// receipt request needs a signature: use [`sign_and_encrypt_message_stream`].
/// `progress` receives the number of draft bytes read so far.
pub fn encrypt_message_stream(
    draft: &mut dyn Read,
    out: &mut dyn Write,
    recipients: &[Certificate],
    sender: &Certificate,
    opts: &EncryptOptions,
    msg: &MessageOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    check_no_receipt_request(msg)?;
    let mut input = Counting::new(draft, progress);
    let mut p = prepare(&mut input, msg, true, false)?;
    encrypt_stream(
        &mut p.entity,
        out,
        &p.outer,
        recipients,
        sender,
        opts,
        &mut |_| {},
    )
}

/// Sign then encrypt a draft read from `draft`, writing the `application/pkcs7-mime`
/// message to `out`: the streaming [`crate::sign_and_encrypt_message`]. The protected
/// headers (`hp="cipher"` unless [`crate::ProtectHeaders::Never`]) are in the signed
/// entity, so they are both signed and encrypted; a receipt request is a signed
/// attribute. `progress` receives the number of draft bytes read so far.
#[allow(clippy::too_many_arguments)]
pub fn sign_and_encrypt_message_stream(
    draft: &mut dyn Read,
    out: &mut dyn Write,
    signer: &dyn SigningKey,
    recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
    msg: &MessageOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let mut input = Counting::new(draft, progress);
    let mut p = prepare(&mut input, msg, true, true)?;
    sign_and_encrypt_stream_with(
        &mut p.entity,
        out,
        &p.outer,
        signer,
        recipients,
        sender_encryption_cert,
        opts,
        p.extra,
        &mut |_| {},
    )
}

/// Secure a reply or forward read from `draft` at `level`, writing it to `out`: the
/// streaming [`crate::secure_reply`], for replies that carry a large attachment on.
/// [`SecurityLevel::None`] copies the draft as it stands; [`SecurityLevel::Signed`]
/// signs it ([`sign_message_stream`]); the encrypted levels sign and encrypt it
/// ([`sign_and_encrypt_message_stream`]: mss signs whenever it encrypts), with the
/// default [`MessageOptions`] (headers protected when encrypting). `recipients` and
/// `sender_encryption_cert` serve only when encrypting; `opts.sign` and `opts.policy`
/// when signing. `progress` receives the number of draft bytes read so far.
#[allow(clippy::too_many_arguments)]
pub fn secure_reply_stream(
    draft: &mut dyn Read,
    out: &mut dyn Write,
    level: SecurityLevel,
    signer: &dyn SigningKey,
    recipients: &[Certificate],
    sender_encryption_cert: Option<&Certificate>,
    opts: &EncryptOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let msg = MessageOptions::default();
    match level {
        SecurityLevel::None => {
            pump(&mut Counting::new(draft, progress), out)?;
            out.flush().map_err(io_error)
        }
        SecurityLevel::Signed => {
            let sign = SignOptions {
                policy: opts.policy,
                ..opts.sign
            };
            sign_message_stream(draft, out, signer, &sign, &msg, progress)
        }
        SecurityLevel::Encrypted | SecurityLevel::SignedEncrypted => {
            sign_and_encrypt_message_stream(
                draft,
                out,
                signer,
                recipients,
                sender_encryption_cert,
                opts,
                &msg,
                progress,
            )
        }
    }
}

//! # mss-cms — the CMS and S/MIME core of mss
//!
//! Builds and reads the Cryptographic Message Syntax (RFC 5652) structures S/MIME v3
//! mail is made of, and the MIME around them (RFC 8551):
//!
//! - [`ber`]: BER input (indefinite lengths, segmented strings) normalised for decoding;
//! - [`content`]: the outer `ContentInfo`;
//! - [`signed`]: SignedData — signing with any number of [`SigningKey`]s and verifying
//!   every signer (digest, signed attributes, signature, policy);
//! - [`enveloped`]: EnvelopedData (RFC 5652 §6), AuthEnvelopedData (RFC 5083/5084) and
//!   EncryptedData with key-transport, key-agreement and KEK recipients, decrypted
//!   through [`DecryptionKey`]s;
//! - [`digested`]: DigestedData (RFC 5652 §7);
//! - [`mime`]: MIME canonicalisation, `multipart/signed`, `application/pkcs7-mime`,
//!   header protection (RFC 9788);
//! - [`receipt`]: ESS signed receipts (RFC 2634): receiptRequest, Receipt, msgSigDigest;
//! - [`stream`]: the same structures streamed through `io::Read` / `io::Write` in bounded
//!   memory, for messages larger than memory.
//!
//! The RustCrypto `cms` crate provides the ASN.1 types; its builder is not used (no
//! verification or decryption, no OAEP, AES only), the processing is ours. Keys reach
//! this crate only through the `mss-algs` key traits: it never sees a card or a network.
//!
//! [`SigningKey`]: mss_algs::keys::SigningKey
//! [`DecryptionKey`]: mss_algs::keys::DecryptionKey
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attributes;
pub mod ber;
pub mod content;
pub mod digested;
pub mod enveloped;
mod error;
pub mod mime;
pub mod receipt;
pub mod signed;
pub mod stream;

pub use error::CmsError;

//! # mss-algs — the algorithm suite of mss
//!
//! The lowest layer of the workspace: object identifiers, digests, content ciphers,
//! RSA signatures and key transport, DSA / ECDSA / Ed25519 signatures, key wrap
//! ([`key_wrap`]) and key agreement ([`key_agreement`]: ESDH, ECDH, X25519), software
//! private keys ([`keys::SoftwarePrivateKey`]), the key-operation traits that identities
//! (software keys, smart cards) implement, and the algorithm [`policy::Policy`].
//!
//! No I/O happens here. Everything else in mss (CMS, tokens, trust, facade) builds on
//! these types, so that one policy object decides, everywhere, what may be produced and
//! what may be accepted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cipher;
pub mod cipher_stream;
pub mod digest;
pub mod error;
pub mod key_agreement;
pub mod key_wrap;
pub mod keys;
pub mod oid;
pub mod policy;
pub mod public_key;
pub mod rsa;
pub mod signature;
mod software_key;

pub use error::AlgError;

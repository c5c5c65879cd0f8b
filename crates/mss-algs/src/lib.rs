//! # mss-algs — the algorithm suite of mss
//!
//! The lowest layer of the workspace: object identifiers, digests, content ciphers,
//! RSA signatures and key transport, the key-operation traits that identities
//! (software keys, smart cards) implement, and the algorithm [`policy::Policy`].
//!
//! No I/O happens here. Everything else in mss (CMS, tokens, trust, facade) builds on
//! these types, so that one policy object decides, everywhere, what may be produced and
//! what may be accepted.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cipher;
pub mod digest;
pub mod error;
pub mod keys;
pub mod oid;
pub mod policy;
pub mod rsa;
pub mod signature;

pub use error::AlgError;

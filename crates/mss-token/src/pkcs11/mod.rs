//! Smart cards through PKCS#11: the CPS card (Carte de Professionnel de Santé) and
//! any token laid out like it.
//!
//! - [`Pkcs11Module`] loads a module (`libcps3_pkcs11_lux.so` for the CPS) once per
//!   process, by explicit path or `MSS_PKCS11_MODULE`;
//! - [`Pkcs11Uri`] parses RFC 7512 URIs (`pkcs11:token=…;object=…?module-path=…`);
//! - [`CpsCard`] is a token opened with one login, whose [`CardIdentity`]s (certificate
//!   and private key paired by CKA_ID) implement [`mss_algs::keys::SigningKey`] and
//!   [`mss_algs::keys::DecryptionKey`] on the card: the digest is computed on the
//!   host; PKCS#1 v1.5 signatures go through `CKM_RSA_PKCS` with a DigestInfo built
//!   here, PSS through `CKM_RSA_PKCS_PSS`, key transport through `CKM_RSA_PKCS` and
//!   `CKM_RSA_PKCS_OAEP`;
//! - key pairs are separated by use: [`CpsCard::signing_identity`] (`CPS_PRIV_SIG`)
//!   and [`CpsCard::decryption_identity`] (`CPS_PRIV_AUT`), each checked against its
//!   certificate's key usage;
//! - [`cps_identity`] reads the professional's identity from a certificate;
//! - [`open_identity`] opens a file or a card from one command-line argument.
//!
//! The PIN is asked through [`crate::PinSource`] (with the tries left when the token
//! reports them), held in zeroizing memory only for `C_Login`, never logged and never
//! retried: a wrong PIN is a [`CardError::WrongPin`].

mod card;
mod cps;
mod error;
mod module;
mod open;
mod uri;

pub use card::{
    CPS_AUT_CERT_LABEL, CPS_AUT_KEY_LABEL, CPS_PIN_TRIES, CPS_SIG_CERT_LABEL, CPS_SIG_KEY_LABEL,
    CardIdentity, CpsCard, KeyRole, is_cps_label,
};
pub use cps::{CpsIdentity, cps_identity};
pub use error::{
    CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED, CardError, PinStatus,
};
pub(crate) use error::{ErrorClass, card_error, classify, short_reason};
pub use module::{MODULE_ENV, Pkcs11Module, TokenSummary, resolve_module_path};
pub use open::{Identity, open_identity};
pub use uri::{ObjectType, Pkcs11Uri};

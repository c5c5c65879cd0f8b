//! One entry point for "an identity", whatever it lives in: a PKCS#12/PEM file or a
//! card named by a `pkcs11:` URI.

use std::fmt;
use std::path::Path;

use mss_algs::keys::{DecryptionKey, SigningKey};

use super::{CardError, CpsCard, uri::strip_scheme};
use crate::{PinSource, SoftwareIdentity};

/// An identity that can give a key to sign with and a key to decrypt with.
///
/// A software identity is one key for both; a CPS card has two key pairs, one per
/// use (signature: `CPS_PRIV_SIG`, decryption: `CPS_PRIV_AUT`), and says so with a
/// [`CardError::KeyUsage`] rather than using the other key.
pub trait Identity: Send + Sync + fmt::Debug {
    /// The key to sign messages with.
    fn signing_key(&self) -> Result<&dyn SigningKey, CardError>;
    /// The key to decrypt with; encrypt the sender's copy to its certificate.
    fn decryption_key(&self) -> Result<&dyn DecryptionKey, CardError>;
    /// A short description for messages: the file or the card.
    fn description(&self) -> String;
}

impl Identity for SoftwareIdentity {
    fn signing_key(&self) -> Result<&dyn SigningKey, CardError> {
        Ok(self)
    }

    fn decryption_key(&self) -> Result<&dyn DecryptionKey, CardError> {
        Ok(self)
    }

    fn description(&self) -> String {
        format!(
            "software identity {}",
            self.certificate().tbs_certificate().subject()
        )
    }
}

impl Identity for CpsCard {
    fn signing_key(&self) -> Result<&dyn SigningKey, CardError> {
        Ok(self.signing_identity()?)
    }

    fn decryption_key(&self) -> Result<&dyn DecryptionKey, CardError> {
        Ok(self.decryption_identity()?)
    }

    fn description(&self) -> String {
        format!("card {:?}", self.token_label())
    }
}

/// Open an identity from a command-line style specification:
///
/// - `pkcs11:…` (RFC 7512 URI, scheme case-insensitive): the card, through the
///   module given by the URI's `module-path`, else `module`, else the
///   `MSS_PKCS11_MODULE` environment variable; the PIN is asked from `pins` once;
/// - anything else: a PKCS#12 or PEM file ([`SoftwareIdentity::load`]); its errors
///   come back as [`CardError::Token`].
pub fn open_identity(
    spec: &str,
    module: Option<&Path>,
    pins: &dyn PinSource,
) -> Result<Box<dyn Identity>, CardError> {
    if strip_scheme(spec).is_some() {
        Ok(Box::new(CpsCard::open(spec, module, pins)?))
    } else {
        Ok(Box::new(SoftwareIdentity::load(Path::new(spec), pins)?))
    }
}

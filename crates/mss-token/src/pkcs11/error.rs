//! Errors of the PKCS#11 backend, and the PIN state a token reports.

use std::fmt;
use std::path::PathBuf;

use crate::TokenError;

/// What went wrong with a PKCS#11 module, a card or its PIN.
///
/// Messages are meant for the end user ("insert your card", "2 tries left") and never
/// carry a PIN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// No module path was given and `MSS_PKCS11_MODULE` is not set.
    #[error(
        "no PKCS#11 module: give the module path (--module PATH, `module-path` in the \
         pkcs11: URI, or the MSS_PKCS11_MODULE environment variable; the CPS module is \
         libcps3_pkcs11_lux.so)"
    )]
    NoModule,
    /// The module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {}: {reason}", path.display())]
    ModuleLoad {
        /// The module's path.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// No token (card) matches the request.
    #[error(
        "no card found{}: insert your CPS card{}",
        wanted_suffix(wanted),
        present_suffix(present)
    )]
    NoToken {
        /// The URI's token attributes, e.g. `token=CPS3 TEST`; empty if none.
        wanted: String,
        /// Labels of the tokens that are present.
        present: Vec<String>,
    },
    /// Several tokens match and the URI does not say which one.
    #[error("several cards are present ({}): choose one with pkcs11:token=LABEL", present.join(", "))]
    AmbiguousToken {
        /// Labels of the tokens that match.
        present: Vec<String>,
    },
    /// The card was removed (or its sessions closed) during use.
    #[error("the card was removed or its session was closed: insert the card and open it again")]
    CardRemoved,
    /// The session is no longer logged in (the token was logged out), or the key it
    /// was using is gone.
    #[error("the card session is no longer logged in (or its key is gone): open the card again")]
    NotLoggedIn,
    /// The PIN was refused. mss never retries a PIN by itself.
    #[error("wrong PIN: {}", status.describe(*retries_left))]
    WrongPin {
        /// The token's PIN state after the failure.
        status: PinStatus,
        /// Tries left before the card locks, when known.
        retries_left: Option<u32>,
    },
    /// The PIN is locked; it must be unblocked (CPS: with the PUK, via the card's tools).
    #[error("the card's PIN is locked after too many wrong tries: unblock it with your PUK")]
    PinLocked,
    /// The PIN request was cancelled.
    #[error("PIN entry cancelled")]
    PinCancelled,
    /// The `pkcs11:` URI is malformed or asks for something unsupported.
    #[error("invalid PKCS#11 URI: {0}")]
    Uri(String),
    /// No identity (certificate + private key with the same CKA_ID) matches.
    #[error("no identity on card {token:?} matches {what}")]
    NoIdentity {
        /// The token's label.
        token: String,
        /// What was looked for.
        what: String,
    },
    /// The key asked for may not be used this way (key usage of its certificate).
    #[error("key usage: {0}")]
    KeyUsage(String),
    /// Any other error reported by the module.
    #[error("PKCS#11 error during {operation}: {reason}")]
    Device {
        /// The operation (`C_Login`, `C_FindObjects`, …).
        operation: String,
        /// The module's error.
        reason: String,
    },
    /// An error of the token layer (a certificate that does not decode, a PIN source
    /// error, loading a PKCS#12/PEM file in [`crate::open_identity`]).
    #[error(transparent)]
    Token(#[from] TokenError),
}

fn wanted_suffix(wanted: &str) -> String {
    if wanted.is_empty() {
        String::new()
    } else {
        format!(" matching {wanted}")
    }
}

fn present_suffix(present: &[String]) -> String {
    if present.is_empty() {
        " (no token is present)".to_owned()
    } else {
        format!(" (present: {})", present.join(", "))
    }
}

/// The user PIN's state, as a token reports it in its flags
/// (`CKF_USER_PIN_COUNT_LOW`, `CKF_USER_PIN_FINAL_TRY`, `CKF_USER_PIN_LOCKED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PinStatus {
    /// No failure reported since the last successful login.
    Ok,
    /// At least one wrong PIN since the last successful login.
    CountLow,
    /// The next wrong PIN locks the card.
    FinalTry,
    /// The PIN is locked.
    Locked,
}

/// `CKF_USER_PIN_COUNT_LOW` (PKCS#11 v2.40 §5.5, `CK_TOKEN_INFO` flags).
pub const CKF_USER_PIN_COUNT_LOW: u64 = 0x0001_0000;
/// `CKF_USER_PIN_FINAL_TRY`.
pub const CKF_USER_PIN_FINAL_TRY: u64 = 0x0002_0000;
/// `CKF_USER_PIN_LOCKED`.
pub const CKF_USER_PIN_LOCKED: u64 = 0x0004_0000;

impl PinStatus {
    /// Read the state from raw `CK_TOKEN_INFO.flags`. The most severe flag wins.
    pub fn from_flags(flags: u64) -> Self {
        if flags & CKF_USER_PIN_LOCKED != 0 {
            PinStatus::Locked
        } else if flags & CKF_USER_PIN_FINAL_TRY != 0 {
            PinStatus::FinalTry
        } else if flags & CKF_USER_PIN_COUNT_LOW != 0 {
            PinStatus::CountLow
        } else {
            PinStatus::Ok
        }
    }

    /// Read the state from a token's information.
    pub(crate) fn from_token_info(info: &cryptoki::slot::TokenInfo) -> Self {
        let mut flags = 0;
        if info.user_pin_count_low() {
            flags |= CKF_USER_PIN_COUNT_LOW;
        }
        if info.user_pin_final_try() {
            flags |= CKF_USER_PIN_FINAL_TRY;
        }
        if info.user_pin_locked() {
            flags |= CKF_USER_PIN_LOCKED;
        }
        Self::from_flags(flags)
    }

    /// Tries left, given the token's maximum number of tries when known (3 on a CPS
    /// card). `FinalTry` is 1 and `Locked` 0 whatever the maximum; `CountLow` is
    /// "at least one failure" and so, with a known maximum `m`, `m - 1` (at least 2,
    /// since 1 would be `FinalTry`); without a maximum only `FinalTry` and `Locked`
    /// are known.
    pub fn retries_left(self, max_tries: Option<u32>) -> Option<u32> {
        match self {
            PinStatus::Locked => Some(0),
            PinStatus::FinalTry => Some(1),
            PinStatus::CountLow => max_tries.map(|m| m.saturating_sub(1).max(2)),
            PinStatus::Ok => max_tries,
        }
    }

    /// A sentence for the user about the tries left.
    pub fn describe(self, retries_left: Option<u32>) -> String {
        match (self, retries_left) {
            (PinStatus::Locked, _) | (_, Some(0)) => "the PIN is now locked".to_owned(),
            (PinStatus::FinalTry, _) | (_, Some(1)) => {
                "1 try left: one more wrong PIN locks the card".to_owned()
            }
            (_, Some(n)) => format!("{n} tries left before the card locks"),
            (_, None) => "the card does not say how many tries are left".to_owned(),
        }
    }
}

impl fmt::Display for PinStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinStatus::Ok => "ok",
            PinStatus::CountLow => "count-low",
            PinStatus::FinalTry => "final-try",
            PinStatus::Locked => "locked",
        })
    }
}

/// How a module error is to be understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The card went away or the session is gone.
    Removed,
    /// The session lost its login.
    NotLoggedIn,
    /// The input data was refused (bad padding, wrong length): a decryption failure.
    Data,
    /// Any other failure of the card or the module.
    Other,
}

/// Classify a `cryptoki` error.
pub(crate) fn classify(e: &cryptoki::error::Error) -> ErrorClass {
    use cryptoki::error::{Error, RvError};
    match e {
        Error::Pkcs11(rv, _) => match rv {
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::CryptokiNotInitialized => ErrorClass::Removed,
            // After a logout (or a card swap) the private key's handle is no longer valid.
            RvError::UserNotLoggedIn | RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid => {
                ErrorClass::NotLoggedIn
            }
            // What modules return for a ciphertext they refuse: SoftHSM2 says
            // CKR_GENERAL_ERROR for bad PKCS#1 v1.5 padding.
            RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange
            | RvError::DataInvalid
            | RvError::DataLenRange
            | RvError::FunctionFailed
            | RvError::GeneralError => ErrorClass::Data,
            _ => ErrorClass::Other,
        },
        _ => ErrorClass::Other,
    }
}

/// Turn a module error into a [`CardError`].
pub(crate) fn card_error(e: cryptoki::error::Error, operation: &str) -> CardError {
    match classify(&e) {
        ErrorClass::Removed => CardError::CardRemoved,
        ErrorClass::NotLoggedIn => CardError::NotLoggedIn,
        ErrorClass::Data | ErrorClass::Other => CardError::Device {
            operation: operation.to_owned(),
            reason: short_reason(&e),
        },
    }
}

/// The module's error without the specification's paragraph-long explanations.
pub(crate) fn short_reason(e: &cryptoki::error::Error) -> String {
    match e {
        cryptoki::error::Error::Pkcs11(rv, function) => format!("{function}: {rv:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_the_most_severe_state() {
        assert_eq!(PinStatus::from_flags(0), PinStatus::Ok);
        assert_eq!(PinStatus::from_flags(0x400), PinStatus::Ok);
        assert_eq!(
            PinStatus::from_flags(CKF_USER_PIN_COUNT_LOW | 0x400),
            PinStatus::CountLow
        );
        assert_eq!(
            PinStatus::from_flags(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY),
            PinStatus::FinalTry
        );
        assert_eq!(
            PinStatus::from_flags(
                CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED
            ),
            PinStatus::Locked
        );
    }

    #[test]
    fn retries_with_a_cps_maximum_of_three() {
        let cps = Some(3);
        assert_eq!(PinStatus::Ok.retries_left(cps), Some(3));
        assert_eq!(PinStatus::CountLow.retries_left(cps), Some(2));
        assert_eq!(PinStatus::FinalTry.retries_left(cps), Some(1));
        assert_eq!(PinStatus::Locked.retries_left(cps), Some(0));
    }

    #[test]
    fn retries_without_a_known_maximum() {
        assert_eq!(PinStatus::Ok.retries_left(None), None);
        assert_eq!(PinStatus::CountLow.retries_left(None), None);
        assert_eq!(PinStatus::FinalTry.retries_left(None), Some(1));
        assert_eq!(PinStatus::Locked.retries_left(None), Some(0));
    }

    #[test]
    fn wrong_pin_messages_count_the_tries() {
        let msg = |flags, max| {
            let status = PinStatus::from_flags(flags);
            CardError::WrongPin {
                status,
                retries_left: status.retries_left(max),
            }
            .to_string()
        };
        assert_eq!(
            msg(CKF_USER_PIN_COUNT_LOW, Some(3)),
            "wrong PIN: 2 tries left before the card locks"
        );
        assert_eq!(
            msg(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY, Some(3)),
            "wrong PIN: 1 try left: one more wrong PIN locks the card"
        );
        assert_eq!(
            msg(CKF_USER_PIN_FINAL_TRY, None),
            "wrong PIN: 1 try left: one more wrong PIN locks the card"
        );
        assert_eq!(
            msg(CKF_USER_PIN_LOCKED, Some(3)),
            "wrong PIN: the PIN is now locked"
        );
        assert_eq!(
            msg(CKF_USER_PIN_COUNT_LOW, None),
            "wrong PIN: the card does not say how many tries are left"
        );
    }

    #[test]
    fn card_level_and_data_errors_are_told_apart() {
        use cryptoki::context::Function;
        use cryptoki::error::{Error, RvError};
        let e = |rv| Error::Pkcs11(rv, Function::Decrypt);
        assert_eq!(classify(&e(RvError::DeviceRemoved)), ErrorClass::Removed);
        assert_eq!(
            classify(&e(RvError::SessionHandleInvalid)),
            ErrorClass::Removed
        );
        assert_eq!(
            classify(&e(RvError::UserNotLoggedIn)),
            ErrorClass::NotLoggedIn
        );
        assert_eq!(
            classify(&e(RvError::EncryptedDataInvalid)),
            ErrorClass::Data
        );
        assert_eq!(classify(&e(RvError::GeneralError)), ErrorClass::Data);
        assert_eq!(
            classify(&e(RvError::KeyHandleInvalid)),
            ErrorClass::NotLoggedIn
        );
        assert_eq!(
            classify(&e(RvError::MechanismParamInvalid)),
            ErrorClass::Other
        );
        assert!(matches!(
            card_error(e(RvError::TokenNotPresent), "C_Decrypt"),
            CardError::CardRemoved
        ));
        let other = card_error(e(RvError::MechanismInvalid), "C_Decrypt").to_string();
        assert!(other.contains("MechanismInvalid"), "{other}");
        assert!(other.len() < 120, "{other}");
    }

    #[test]
    fn absent_token_message_asks_for_the_card() {
        let e = CardError::NoToken {
            wanted: "token=CPS3 X".into(),
            present: vec!["CPS3 TEST".into()],
        };
        assert_eq!(
            e.to_string(),
            "no card found matching token=CPS3 X: insert your CPS card (present: CPS3 TEST)"
        );
    }
}

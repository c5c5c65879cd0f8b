//! Asking for passwords and PINs.
//!
//! Identities never prompt by themselves: they call a [`PinSource`] with a
//! [`PinRequest`] saying what is needed. The CLI implements it with a terminal
//! prompt; tests and batch jobs use [`FixedPin`]; [`NoPin`] refuses (for inputs that
//! are expected not to need one). Any `Fn(&PinRequest) -> Result<Zeroizing<String>, _>`
//! closure is a `PinSource` too.

use std::fmt;

use zeroize::Zeroizing;

use crate::TokenError;

/// What a [`PinSource`] is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRequest {
    /// Human-readable description, e.g. `password for alice.p12`.
    pub what: String,
    /// Remaining attempts before the token locks, when known.
    pub retries_left: Option<u32>,
}

/// Something that supplies passwords and PINs on request.
pub trait PinSource: Send + Sync {
    /// Give the password or PIN for `request`, or [`TokenError::Cancelled`].
    fn pin(&self, request: &PinRequest) -> Result<Zeroizing<String>, TokenError>;
}

/// A fixed password, given whatever is asked.
#[derive(Clone)]
pub struct FixedPin(pub Zeroizing<String>);

impl FixedPin {
    /// Wrap a password.
    pub fn new(pin: &str) -> Self {
        FixedPin(Zeroizing::new(pin.to_owned()))
    }
}

impl fmt::Debug for FixedPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FixedPin(<redacted>)")
    }
}

impl PinSource for FixedPin {
    fn pin(&self, _request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        Ok(self.0.clone())
    }
}

/// No password available: every request is [`TokenError::Cancelled`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPin;

impl PinSource for NoPin {
    fn pin(&self, _request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        Err(TokenError::Cancelled)
    }
}

impl<F> PinSource for F
where
    F: Fn(&PinRequest) -> Result<Zeroizing<String>, TokenError> + Send + Sync,
{
    fn pin(&self, request: &PinRequest) -> Result<Zeroizing<String>, TokenError> {
        self(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pin_gives_value_and_hides_it() {
        let p = FixedPin::new("s3cret-pw");
        let req = PinRequest {
            what: "x".into(),
            retries_left: None,
        };
        assert_eq!(
            p.pin(&req).ok().as_deref().map(|s| s.as_str()),
            Some("s3cret-pw")
        );
        assert!(!format!("{p:?}").contains("s3cret"));
    }

    #[test]
    fn no_pin_cancels() {
        let req = PinRequest {
            what: "x".into(),
            retries_left: Some(2),
        };
        assert!(matches!(NoPin.pin(&req), Err(TokenError::Cancelled)));
    }

    #[test]
    fn closure_is_a_pin_source() {
        let f = |r: &PinRequest| -> Result<Zeroizing<String>, TokenError> {
            Ok(Zeroizing::new(format!(
                "pw-{}",
                r.retries_left.unwrap_or(0)
            )))
        };
        let req = PinRequest {
            what: "x".into(),
            retries_left: Some(3),
        };
        let src: &dyn PinSource = &f;
        assert_eq!(
            src.pin(&req).ok().as_deref().map(|s| s.as_str()),
            Some("pw-3")
        );
    }
}

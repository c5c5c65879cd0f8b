//! The recovery secret and its key derivation (the degraded mode without the card).
//!
//! The secret is 31 random characters of Crockford's base-32 alphabet (155 bits)
//! and one check character (Luhn mod 32, which catches every single mistyped
//! character and every swap of two neighbours but `0`↔`Z`), shown once at creation in eight
//! groups of four: `7K2M-Q9XD-…`. Reading it back ignores case, spaces and dashes and
//! takes `O` for `0`, `I` and `L` for `1`, as Crockford's alphabet intends.
//!
//! The wrapping key is derived with Argon2id (RFC 9106) through the RustCrypto
//! `argon2` crate, release 0.6: the first stable release built on `blake2` 0.11 /
//! `digest` 0.11, the generation of the rest of the workspace (0.5 would pull a second
//! `digest`). The parameters are stored in the recovery slot and are what unlocking
//! uses, so that a store made with [`KdfParams::PRODUCTION`] and one made with the
//! cheap test set ([`KdfParams::insecure_for_tests`]) both open.

use std::fmt;

use zeroize::Zeroizing;

use crate::KeystoreError;
use crate::crypto::{KEY_LEN, Secret};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_CHARS: usize = 31;
const GROUP: usize = 4;

/// A recovery secret. Its `Debug` does not show it; [`RecoverySecret::expose`] does,
/// for the one time it is shown to the holder.
#[derive(Clone)]
pub struct RecoverySecret {
    /// The 32 normalised characters (data and check), no separators.
    chars: Zeroizing<String>,
}

impl fmt::Debug for RecoverySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoverySecret(…)")
    }
}

fn value_of(c: char) -> Option<u8> {
    let c = match c.to_ascii_uppercase() {
        'O' => '0',
        'I' | 'L' => '1',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| a as char == c)
        .map(|p| p as u8)
}

/// Luhn mod N (N = 32) check value for `data` (values 0..32).
fn check_value(data: &[u8]) -> u8 {
    let n = 32u32;
    let mut factor = 2u32;
    let mut sum = 0u32;
    for &v in data.iter().rev() {
        let addend = factor * u32::from(v);
        sum += addend / n + addend % n;
        factor = if factor == 2 { 1 } else { 2 };
    }
    ((n - sum % n) % n) as u8
}

impl RecoverySecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, KeystoreError> {
        let mut raw = Zeroizing::new([0u8; DATA_CHARS]);
        getrandom::fill(&mut raw[..]).map_err(|_| KeystoreError::Rng)?;
        let values: Zeroizing<Vec<u8>> = Zeroizing::new(raw.iter().map(|b| b & 31).collect());
        let mut chars = Zeroizing::new(String::with_capacity(DATA_CHARS + 1));
        for &v in values.iter() {
            chars.push(ALPHABET[usize::from(v)] as char);
        }
        chars.push(ALPHABET[usize::from(check_value(&values))] as char);
        Ok(RecoverySecret { chars })
    }

    /// Read a secret as typed by a person (case, spaces and dashes ignored).
    pub fn parse(typed: &str) -> Result<Self, KeystoreError> {
        let mut values = Zeroizing::new(Vec::with_capacity(DATA_CHARS + 1));
        for c in typed.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            match value_of(c) {
                Some(v) => values.push(v),
                None => {
                    return Err(KeystoreError::RecoverySecretMistyped(
                        "a character is not of the secret's alphabet (0-9 and A-Z without I, L, O, U)"
                            .into(),
                    ));
                }
            }
        }
        if values.len() != DATA_CHARS + 1 {
            return Err(KeystoreError::RecoverySecretMistyped(format!(
                "it has {} characters, {} expected",
                values.len(),
                DATA_CHARS + 1
            )));
        }
        if check_value(&values[..DATA_CHARS]) != values[DATA_CHARS] {
            return Err(KeystoreError::RecoverySecretMistyped(
                "the check character does not match: a character is wrong or two are swapped"
                    .into(),
            ));
        }
        let mut chars = Zeroizing::new(String::with_capacity(DATA_CHARS + 1));
        for &v in values.iter() {
            chars.push(ALPHABET[usize::from(v)] as char);
        }
        Ok(RecoverySecret { chars })
    }

    /// The secret in groups of four separated by dashes, to show once and write down.
    pub fn expose(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(40));
        for (i, c) in self.chars.chars().enumerate() {
            if i > 0 && i % GROUP == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    fn bytes(&self) -> &[u8] {
        self.chars.as_bytes()
    }
}

/// Argon2id parameters of a recovery slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub passes: u32,
    /// Lanes (parallelism).
    pub lanes: u32,
}

impl KdfParams {
    /// The production parameters: 64 MiB, 3 passes, 1 lane (about a second on a
    /// workstation; each guess of the secret costs an attacker as much).
    pub const PRODUCTION: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        passes: 3,
        lanes: 1,
    };

    /// A deliberately cheap set (256 KiB, 1 pass) so that test suites stay fast. Never
    /// for real stores: the secret's 155 bits still resist guessing, but the
    /// derivation adds almost nothing. The parameters are stored in the slot.
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            memory_kib: 256,
            passes: 1,
            lanes: 1,
        }
    }

    /// Check that Argon2 accepts the parameters (and that they are not absurdly large).
    pub fn validate(&self) -> Result<(), KeystoreError> {
        if self.lanes == 0 || self.lanes > 16 {
            return Err(KeystoreError::Invalid(
                "Argon2 lanes must be 1 to 16".into(),
            ));
        }
        if self.memory_kib < 8 * self.lanes || self.memory_kib > 4 * 1024 * 1024 {
            return Err(KeystoreError::Invalid(format!(
                "Argon2 memory must be {} KiB to 4 GiB",
                8 * self.lanes
            )));
        }
        if self.passes == 0 || self.passes > 64 {
            return Err(KeystoreError::Invalid(
                "Argon2 passes must be 1 to 64".into(),
            ));
        }
        Ok(())
    }

    /// Derive the recovery wrapping key from `secret` and `salt`.
    pub(crate) fn derive(
        &self,
        secret: &RecoverySecret,
        salt: &[u8],
    ) -> Result<Secret, KeystoreError> {
        self.validate()?;
        let params = argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(KEY_LEN))
            .map_err(|e| KeystoreError::Invalid(format!("Argon2 parameters: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        argon
            .hash_password_into(secret.bytes(), salt, &mut out[..])
            .map_err(|e| KeystoreError::Invalid(format!("Argon2: {e}")))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_catch_typos() {
        let s = RecoverySecret::generate().expect("secret");
        let shown = s.expose();
        assert_eq!(shown.len(), 32 + 7);
        let back = RecoverySecret::parse(&shown.to_lowercase().replace('-', " ")).expect("parse");
        assert_eq!(back.bytes(), s.bytes());
        // Every single substitution is caught.
        let raw: Vec<char> = s.chars.chars().collect();
        for i in 0..raw.len() {
            for &a in ALPHABET {
                let a = a as char;
                if a == raw[i] {
                    continue;
                }
                let mut t = raw.clone();
                t[i] = a;
                let typed: String = t.into_iter().collect();
                assert!(RecoverySecret::parse(&typed).is_err(), "{i} {a}");
            }
        }
        // Every swap of two different neighbours is caught, but 0 <-> Z (values 0 and
        // 31 weigh the same doubled or not: Luhn mod N's one blind spot).
        for i in 0..raw.len() - 1 {
            let pair = [raw[i], raw[i + 1]];
            if raw[i] == raw[i + 1] || pair == ['0', 'Z'] || pair == ['Z', '0'] {
                continue;
            }
            let mut t = raw.clone();
            t.swap(i, i + 1);
            let typed: String = t.into_iter().collect();
            assert!(RecoverySecret::parse(&typed).is_err(), "swap {i}");
        }
        assert!(RecoverySecret::parse("ABC").is_err());
        assert!(RecoverySecret::parse(&format!("{}U", &s.chars[..31])).is_err());
        assert_eq!(format!("{s:?}"), "RecoverySecret(…)");
    }

    #[test]
    fn confusable_letters_read_as_digits() {
        let s = RecoverySecret::generate().expect("secret");
        let typed = s.chars.replace('0', "O").replace('1', "l");
        assert_eq!(
            RecoverySecret::parse(&typed).expect("parse").bytes(),
            s.bytes()
        );
    }
}

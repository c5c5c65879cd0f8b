//! A logged-in card and the identities on it.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;
use der::Decode;
use mss_algs::AlgError;
use mss_algs::digest::DigestAlgorithm;
use mss_algs::keys::{DecryptionKey, SigningKey};
use mss_algs::rsa::KeyTransport;
use mss_algs::signature::{SignatureAlgorithm, SignatureScheme};
use x509_cert::Certificate;
use x509_cert::ext::pkix::KeyUsage;
use zeroize::Zeroizing;

use super::uri::ObjectType;
use super::{
    CardError, ErrorClass, PinStatus, Pkcs11Module, Pkcs11Uri, card_error, classify,
    resolve_module_path, short_reason,
};
use crate::{PinRequest, PinSource, TokenError};

/// Label of the CPS authentication key (also the only one that decrypts).
pub const CPS_AUT_KEY_LABEL: &str = "CPS_PRIV_AUT";
/// Label of the CPS signature key.
pub const CPS_SIG_KEY_LABEL: &str = "CPS_PRIV_SIG";
/// Label of the CPS authentication certificate.
pub const CPS_AUT_CERT_LABEL: &str = "Certificat d'Authentification CPS";
/// Label of the CPS signature certificate.
pub const CPS_SIG_CERT_LABEL: &str = "Certificat de Signature CPS";
/// PIN tries of a CPS card before it locks.
pub const CPS_PIN_TRIES: u32 = 3;

/// What a key on the card is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRole {
    /// The signature key (CPS: `CPS_PRIV_SIG`; or a certificate with
    /// nonRepudiation and without keyEncipherment).
    Signature,
    /// The authentication key (CPS: `CPS_PRIV_AUT`), which also decrypts.
    Authentication,
    /// Anything else: the certificate's key usage alone decides.
    Unspecified,
}

/// Whether a token looks like a CPS card (label holding `CPS3` or `CPS4`).
pub fn is_cps_label(label: &str) -> bool {
    let upper = label.to_ascii_uppercase();
    upper.contains("CPS3") || upper.contains("CPS4")
}

/// The session shared by a card and its identities.
struct Shared {
    session: Mutex<Session>,
    token_label: String,
    module: Pkcs11Module,
    slot: Slot,
}

impl Shared {
    /// The session, even if another thread panicked while holding it (the session
    /// itself has no invariant a panic could break).
    fn session(&self) -> MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An error for the CMS layer: card-level failures say what happened.
    fn key_operation(&self, e: &Error, what: &str) -> AlgError {
        let reason = match classify(e) {
            ErrorClass::Removed => CardError::CardRemoved.to_string(),
            ErrorClass::NotLoggedIn => CardError::NotLoggedIn.to_string(),
            _ => short_reason(e),
        };
        AlgError::KeyOperation(format!("card {:?}, {what}: {reason}", self.token_label))
    }
}

/// A card opened and logged in: one session, one login, for all its identities.
///
/// `Send + Sync`: operations from several threads take turns on the session.
/// Dropping the card (and every [`CardIdentity`] taken from it) closes the session.
pub struct CpsCard {
    shared: Arc<Shared>,
    identities: Vec<CardIdentity>,
    selected: bool,
    cps: bool,
}

impl fmt::Debug for CpsCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpsCard")
            .field("token", &self.shared.token_label)
            .field("identities", &self.identities)
            .finish_non_exhaustive()
    }
}

/// A certificate and its private key on a card, paired by CKA_ID.
///
/// Implements [`SigningKey`] only if its certificate allows digitalSignature or
/// nonRepudiation, and [`DecryptionKey`] only if it allows keyEncipherment: any
/// other use is an [`AlgError::KeyOperation`] naming the key, never a fallback to
/// another key.
#[derive(Clone)]
pub struct CardIdentity {
    shared: Arc<Shared>,
    key: ObjectHandle,
    key_label: String,
    cert_label: String,
    id: Vec<u8>,
    certificate: Certificate,
    chain: Vec<Certificate>,
    role: KeyRole,
    can_sign: bool,
    can_decrypt: bool,
}

impl fmt::Debug for CardIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardIdentity")
            .field("token", &self.shared.token_label)
            .field("key", &self.key_label)
            .field("role", &self.role)
            .field(
                "subject",
                &self.certificate.tbs_certificate().subject().to_string(),
            )
            .finish_non_exhaustive()
    }
}

impl CpsCard {
    /// Open the card named by a `pkcs11:` URI and log in, asking `pins` for the PIN
    /// once (with the tries left when the token tells).
    ///
    /// The module is the URI's `module-path`/`module-name`, else `module`, else
    /// `MSS_PKCS11_MODULE`. Without token attributes in the URI, the only token
    /// present is used (or the only CPS one). With `object`/`id`/`type`, only the
    /// identities that match are kept.
    pub fn open(uri: &str, module: Option<&Path>, pins: &dyn PinSource) -> Result<Self, CardError> {
        let uri = Pkcs11Uri::parse(uri)?;
        let path = resolve_module_path(
            uri.module_path.as_deref(),
            uri.module_name.as_deref(),
            module,
        )?;
        let module = Pkcs11Module::load(&path)?;
        Self::open_with(&module, &uri, pins)
    }

    /// Like [`CpsCard::open`], with a loaded module and a parsed URI (its module
    /// attributes are ignored).
    pub fn open_with(
        module: &Pkcs11Module,
        uri: &Pkcs11Uri,
        pins: &dyn PinSource,
    ) -> Result<Self, CardError> {
        let (slot, info) = select_token(module, uri)?;
        let label = info.label().trim_end().to_owned();
        let ctx = module.context();
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| card_error(e, "C_OpenSession"))?;
        let state = session
            .get_session_info()
            .map_err(|e| card_error(e, "C_GetSessionInfo"))?
            .session_state();
        let logged_in = matches!(state, SessionState::RoUser | SessionState::RwUser);
        let cps = is_cps_label(&label);
        if info.login_required() && !logged_in {
            login(module, slot, &session, &info, &label, cps, pins)?;
        }
        let shared = Arc::new(Shared {
            session: Mutex::new(session),
            token_label: label,
            module: module.clone(),
            slot,
        });
        let all = enumerate(&shared)?;
        let cps = cps
            || all
                .iter()
                .any(|i| i.key_label == CPS_SIG_KEY_LABEL || i.key_label == CPS_AUT_KEY_LABEL);
        let selected = uri.selects_object();
        let identities: Vec<CardIdentity> =
            all.into_iter().filter(|i| object_matches(uri, i)).collect();
        if identities.is_empty() {
            let what = if selected || uri.object_type.is_some() {
                Pkcs11Uri {
                    object: uri.object.clone(),
                    id: uri.id.clone(),
                    object_type: uri.object_type,
                    ..Pkcs11Uri::default()
                }
                .to_string()
            } else {
                "a certificate with its private key (same CKA_ID)".to_owned()
            };
            return Err(CardError::NoIdentity {
                token: shared.token_label.clone(),
                what,
            });
        }
        Ok(CpsCard {
            shared,
            identities,
            selected,
            cps,
        })
    }

    /// The token label.
    pub fn token_label(&self) -> &str {
        &self.shared.token_label
    }

    /// The module the card was opened with.
    pub fn module(&self) -> &Pkcs11Module {
        &self.shared.module
    }

    /// The slot number.
    pub fn slot_id(&self) -> u64 {
        self.shared.slot.id()
    }

    /// Whether the card follows the CPS profile (label `CPS3`/`CPS4`, or keys
    /// labelled `CPS_PRIV_SIG`/`CPS_PRIV_AUT`).
    pub fn is_cps(&self) -> bool {
        self.cps
    }

    /// Every identity found (restricted to the URI's object, if it named one).
    pub fn identities(&self) -> &[CardIdentity] {
        &self.identities
    }

    /// The identity to sign with: the signature key (`CPS_PRIV_SIG`) whose
    /// certificate allows digitalSignature or nonRepudiation.
    ///
    /// On a CPS card, only the key labelled `CPS_PRIV_SIG` signs messages (the
    /// authentication key is not a fallback). When the URI named an object, that
    /// object is used if its certificate allows signing. Otherwise the signature-role
    /// key is preferred, then any key whose certificate allows signing.
    pub fn signing_identity(&self) -> Result<&CardIdentity, CardError> {
        self.pick("signature", |i| i.can_sign, KeyRole::Signature)
    }

    /// The identity to decrypt with: the authentication key (`CPS_PRIV_AUT`) whose
    /// certificate allows keyEncipherment. Same rules as
    /// [`CpsCard::signing_identity`]; encrypt the sender's copy to this identity's
    /// certificate.
    pub fn decryption_identity(&self) -> Result<&CardIdentity, CardError> {
        self.pick("decryption", |i| i.can_decrypt, KeyRole::Authentication)
    }

    fn pick(
        &self,
        what: &str,
        allowed: impl Fn(&CardIdentity) -> bool,
        role: KeyRole,
    ) -> Result<&CardIdentity, CardError> {
        let usage = match role {
            KeyRole::Signature => "digitalSignature/nonRepudiation",
            _ => "keyEncipherment",
        };
        let found = if self.selected || !self.cps {
            self.identities
                .iter()
                .find(|i| allowed(i) && i.role == role)
                .or_else(|| self.identities.iter().find(|i| allowed(i)))
        } else {
            self.identities
                .iter()
                .find(|i| allowed(i) && i.role == role)
        };
        found.ok_or_else(|| {
            let keys: Vec<String> = self
                .identities
                .iter()
                .map(|i| format!("{} ({:?})", i.key_label, i.role))
                .collect();
            let expected = match (self.cps && !self.selected, role) {
                (true, KeyRole::Signature) => format!(" ({CPS_SIG_KEY_LABEL})"),
                (true, _) => format!(" ({CPS_AUT_KEY_LABEL})"),
                _ => String::new(),
            };
            CardError::KeyUsage(format!(
                "card {:?} has no {what} key{expected} whose certificate allows {usage}; keys: {}",
                self.shared.token_label,
                keys.join(", ")
            ))
        })
    }
}

impl CardIdentity {
    /// The label of the private key (`CPS_PRIV_SIG`, `CPS_PRIV_AUT`, …).
    pub fn key_label(&self) -> &str {
        &self.key_label
    }

    /// The label of the certificate.
    pub fn certificate_label(&self) -> &str {
        &self.cert_label
    }

    /// The CKA_ID shared by the key and its certificate.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The role of the key.
    pub fn role(&self) -> KeyRole {
        self.role
    }

    /// The end-entity certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Whether the certificate (and the key's CKA_SIGN) allows signing.
    pub fn can_sign(&self) -> bool {
        self.can_sign
    }

    /// Whether the certificate (and the key's CKA_DECRYPT) allows key decryption.
    pub fn can_decrypt(&self) -> bool {
        self.can_decrypt
    }

    /// A URI naming this identity: `pkcs11:token=…;id=…;object=<key label>;type=private`.
    pub fn uri(&self) -> Pkcs11Uri {
        Pkcs11Uri {
            token: Some(self.shared.token_label.clone()),
            object: Some(self.key_label.clone()).filter(|l| !l.is_empty()),
            id: Some(self.id.clone()).filter(|id| !id.is_empty()),
            object_type: Some(ObjectType::Private),
            ..Pkcs11Uri::default()
        }
    }

    fn usage_error(&self, needed: &str, use_: &str) -> AlgError {
        AlgError::KeyOperation(format!(
            "key {:?} on card {:?} may not be used for {use_}: its certificate does not allow {needed}",
            self.key_label, self.shared.token_label
        ))
    }
}

/// The mechanism for a digest, for PSS and OAEP parameters.
fn digest_mechanism(d: DigestAlgorithm) -> Option<(MechanismType, PkcsMgfType)> {
    Some(match d {
        DigestAlgorithm::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        DigestAlgorithm::Sha224 => (MechanismType::SHA224, PkcsMgfType::MGF1_SHA224),
        DigestAlgorithm::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        DigestAlgorithm::Sha384 => (MechanismType::SHA384, PkcsMgfType::MGF1_SHA384),
        DigestAlgorithm::Sha512 => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
        _ => return None,
    })
}

/// The DER `DigestInfo` prefix (RFC 8017 §9.2 note 1) to put before a digest.
fn digest_info_prefix(d: DigestAlgorithm) -> Option<&'static [u8]> {
    Some(match d {
        DigestAlgorithm::Sha1 => &[
            0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
            0x14,
        ],
        DigestAlgorithm::Sha224 => &[
            0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x04, 0x05, 0x00, 0x04, 0x1c,
        ],
        DigestAlgorithm::Sha256 => &[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ],
        DigestAlgorithm::Sha384 => &[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x02, 0x05, 0x00, 0x04, 0x30,
        ],
        DigestAlgorithm::Sha512 => &[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x03, 0x05, 0x00, 0x04, 0x40,
        ],
        _ => return None,
    })
}

/// `DigestInfo ::= SEQUENCE { digestAlgorithm, digest OCTET STRING }`, DER.
pub(crate) fn digest_info(d: DigestAlgorithm, digest: &[u8]) -> Option<Vec<u8>> {
    let prefix = digest_info_prefix(d)?;
    let mut out = Vec::with_capacity(prefix.len() + digest.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(digest);
    Some(out)
}

impl SigningKey for CardIdentity {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn supports(&self, alg: &SignatureAlgorithm) -> bool {
        self.can_sign
            && matches!(
                alg.scheme,
                SignatureScheme::RsaPkcs1v15 | SignatureScheme::RsaPss
            )
            && digest_mechanism(alg.digest).is_some()
    }

    fn sign_digest(&self, alg: &SignatureAlgorithm, digest: &[u8]) -> Result<Vec<u8>, AlgError> {
        if !self.can_sign {
            return Err(self.usage_error("digitalSignature or nonRepudiation", "signing"));
        }
        let Some((hash, mgf)) = digest_mechanism(alg.digest) else {
            return Err(AlgError::Unsupported(format!(
                "{} on a PKCS#11 card",
                alg.name()
            )));
        };
        if digest.len() != alg.digest.output_len() {
            return Err(AlgError::InvalidParameters {
                alg: alg.name(),
                reason: format!(
                    "digest is {} bytes, expected {}",
                    digest.len(),
                    alg.digest.output_len()
                ),
            });
        }
        let result = match alg.scheme {
            SignatureScheme::RsaPkcs1v15 => {
                let data = digest_info(alg.digest, digest).ok_or_else(|| {
                    AlgError::Unsupported(format!("{} on a PKCS#11 card", alg.name()))
                })?;
                self.shared
                    .session()
                    .sign(&Mechanism::RsaPkcs, self.key, &data)
            }
            SignatureScheme::RsaPss => {
                let s_len = u64::try_from(alg.salt_len)
                    .map_err(|_| AlgError::InvalidParameters {
                        alg: alg.name(),
                        reason: "salt length too large".into(),
                    })?
                    .into();
                let params = PkcsPssParams {
                    hash_alg: hash,
                    mgf,
                    s_len,
                };
                self.shared
                    .session()
                    .sign(&Mechanism::RsaPkcsPss(params), self.key, digest)
            }
            _ => {
                return Err(AlgError::Unsupported(format!(
                    "{} on a PKCS#11 card",
                    alg.name()
                )));
            }
        };
        result.map_err(|e| self.shared.key_operation(&e, "signing"))
    }
}

impl DecryptionKey for CardIdentity {
    fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// Decrypt on the card. For PKCS#1 v1.5 with `expected_len`, a refusal of the
    /// data (bad padding, wrong length) or a result of the wrong length yields a
    /// random key of `expected_len` bytes (implicit rejection); a card-level error
    /// (card removed, not logged in, mechanism refused…) is an
    /// [`AlgError::KeyOperation`] that the CMS layer propagates.
    fn decrypt_key(
        &self,
        alg: &KeyTransport,
        encrypted: &[u8],
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, AlgError> {
        if !self.can_decrypt {
            return Err(self.usage_error("keyEncipherment", "decryption"));
        }
        let (result, implicit) = match alg {
            KeyTransport::RsaPkcs1v15 => (
                self.shared
                    .session()
                    .decrypt(&Mechanism::RsaPkcs, self.key, encrypted),
                expected_len,
            ),
            KeyTransport::RsaOaep { hash } => {
                let Some((h, mgf)) = digest_mechanism(*hash) else {
                    return Err(AlgError::Unsupported(format!(
                        "{} on a PKCS#11 card",
                        alg.name()
                    )));
                };
                let params = PkcsOaepParams::new(h, mgf, PkcsOaepSource::empty());
                (
                    self.shared.session().decrypt(
                        &Mechanism::RsaPkcsOaep(params),
                        self.key,
                        encrypted,
                    ),
                    None,
                )
            }
            _ => {
                return Err(AlgError::Unsupported(format!(
                    "{} on a PKCS#11 card",
                    alg.name()
                )));
            }
        };
        match (result.map(Zeroizing::new), implicit) {
            (Ok(plain), Some(len)) if plain.len() != len => random_key(len),
            (Ok(plain), _) => Ok(plain),
            (Err(e), implicit) => match (classify(&e), implicit) {
                (ErrorClass::Data, Some(len)) => random_key(len),
                (ErrorClass::Data, None) => Err(AlgError::DecryptionFailed),
                _ => Err(self.shared.key_operation(&e, "decryption")),
            },
        }
    }
}

fn random_key(len: usize) -> Result<Zeroizing<Vec<u8>>, AlgError> {
    let mut key = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut key).map_err(|_| AlgError::Rng)?;
    Ok(key)
}

/// Find the token the URI asks for.
fn select_token(module: &Pkcs11Module, uri: &Pkcs11Uri) -> Result<(Slot, TokenInfo), CardError> {
    let ctx = module.context();
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| card_error(e, "C_GetSlotList"))?;
    let mut present = Vec::new();
    let mut matching = Vec::new();
    for slot in slots {
        let info = match ctx.get_token_info(slot) {
            Ok(i) => i,
            Err(Error::Pkcs11(RvError::TokenNotPresent | RvError::DeviceRemoved, _)) => continue,
            Err(e) => return Err(card_error(e, "C_GetTokenInfo")),
        };
        let label = info.label().trim_end().to_owned();
        present.push(label.clone());
        if !info.token_initialized() {
            continue;
        }
        let eq =
            |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w == have.trim_end());
        let mut ok = eq(&uri.token, info.label())
            && eq(&uri.manufacturer, info.manufacturer_id())
            && eq(&uri.serial, info.serial_number())
            && eq(&uri.model, info.model())
            && uri.slot_id.is_none_or(|id| id == slot.id());
        if ok && (uri.slot_description.is_some() || uri.slot_manufacturer.is_some()) {
            let si = ctx
                .get_slot_info(slot)
                .map_err(|e| card_error(e, "C_GetSlotInfo"))?;
            ok = eq(&uri.slot_description, si.slot_description())
                && eq(&uri.slot_manufacturer, si.manufacturer_id());
        }
        if ok {
            matching.push((slot, info, label));
        }
    }
    if matching.len() > 1 && !uri.selects_token() {
        let cps: Vec<_> = matching
            .iter()
            .filter(|(_, _, l)| is_cps_label(l))
            .cloned()
            .collect();
        if !cps.is_empty() {
            matching = cps;
        }
    }
    match matching.len() {
        0 => Err(CardError::NoToken {
            wanted: uri.token_part(),
            present,
        }),
        1 => {
            let (slot, info, _) = matching.remove(0);
            Ok((slot, info))
        }
        _ => Err(CardError::AmbiguousToken {
            present: matching.into_iter().map(|(_, _, l)| l).collect(),
        }),
    }
}

/// Log in once. Never retries: a wrong PIN is reported with the tries left.
fn login(
    module: &Pkcs11Module,
    slot: Slot,
    session: &Session,
    info: &TokenInfo,
    label: &str,
    cps: bool,
    pins: &dyn PinSource,
) -> Result<(), CardError> {
    let max = cps.then_some(CPS_PIN_TRIES);
    let status = PinStatus::from_token_info(info);
    if status == PinStatus::Locked {
        return Err(CardError::PinLocked);
    }
    let result = if info.protected_authentication_path() {
        // PIN-pad reader: the PIN is typed on the reader.
        session.login(UserType::User, None)
    } else {
        let pin = pins
            .pin(&PinRequest {
                what: format!("PIN of card {label}"),
                retries_left: status.retries_left(max),
            })
            .map_err(|e| match e {
                TokenError::Cancelled => CardError::PinCancelled,
                other => CardError::Token(other),
            })?;
        let auth = AuthPin::from(pin.as_str());
        // `pin` (Zeroizing) and `auth` (secrecy) are wiped when dropped here.
        session.login(UserType::User, Some(&auth))
    };
    match result {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(Error::Pkcs11(RvError::PinLocked, _)) => Err(CardError::PinLocked),
        Err(Error::Pkcs11(
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
            _,
        )) => {
            let after = module
                .context()
                .get_token_info(slot)
                .map(|i| PinStatus::from_token_info(&i))
                .unwrap_or(PinStatus::CountLow);
            if after == PinStatus::Locked {
                return Err(CardError::PinLocked);
            }
            // A failure happened, whatever the flags say.
            let after = if after == PinStatus::Ok {
                PinStatus::CountLow
            } else {
                after
            };
            Err(CardError::WrongPin {
                status: after,
                retries_left: after.retries_left(max),
            })
        }
        Err(e) => Err(card_error(e, "C_Login")),
    }
}

struct CertObject {
    id: Vec<u8>,
    label: String,
    cert: Certificate,
    der: Vec<u8>,
}

struct KeyObject {
    handle: ObjectHandle,
    id: Vec<u8>,
    label: String,
    modulus: Option<Vec<u8>>,
    sign: bool,
    decrypt: bool,
}

fn label_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim_end().to_owned()
}

/// Pair certificates and RSA private keys by CKA_ID (checking the modulus when the
/// key exposes it); the other certificates become the chain when they issued a leaf.
fn enumerate(shared: &Arc<Shared>) -> Result<Vec<CardIdentity>, CardError> {
    let session = shared.session();
    let find = |class| {
        session
            .find_objects(&[Attribute::Class(class)])
            .map_err(|e| card_error(e, "C_FindObjects"))
    };
    let mut certs = Vec::new();
    for handle in find(ObjectClass::CERTIFICATE)? {
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::CertificateType,
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::Value,
                ],
            )
            .map_err(|e| card_error(e, "C_GetAttributeValue"))?;
        let (mut id, mut label, mut value, mut x509) = (Vec::new(), String::new(), None, true);
        for a in attrs {
            match a {
                Attribute::CertificateType(t) => x509 = t == CertificateType::X_509,
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = label_of(&v),
                Attribute::Value(v) => value = Some(v),
                _ => {}
            }
        }
        let Some(der) = value.filter(|_| x509) else {
            continue;
        };
        // A certificate mss cannot read is skipped rather than hiding the others.
        let Ok(cert) = Certificate::from_der(&der) else {
            continue;
        };
        certs.push(CertObject {
            id,
            label,
            cert,
            der,
        });
    }
    let mut keys = Vec::new();
    for handle in find(ObjectClass::PRIVATE_KEY)? {
        let attrs = session
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::Id,
                    AttributeType::Label,
                    AttributeType::Modulus,
                    AttributeType::Sign,
                    AttributeType::Decrypt,
                ],
            )
            .map_err(|e| card_error(e, "C_GetAttributeValue"))?;
        let mut key = KeyObject {
            handle,
            id: Vec::new(),
            label: String::new(),
            modulus: None,
            sign: true,
            decrypt: true,
        };
        let mut rsa = false;
        for a in attrs {
            match a {
                Attribute::KeyType(t) => rsa = t == KeyType::RSA,
                Attribute::Id(v) => key.id = v,
                Attribute::Label(v) => key.label = label_of(&v),
                Attribute::Modulus(v) => key.modulus = Some(v),
                Attribute::Sign(b) => key.sign = b,
                Attribute::Decrypt(b) => key.decrypt = b,
                _ => {}
            }
        }
        if rsa {
            keys.push(key);
        }
    }
    drop(session);

    let mut out = Vec::new();
    let mut used = vec![false; certs.len()];
    for key in keys {
        let found = certs.iter().position(|c| {
            let same_id = !key.id.is_empty() && c.id == key.id;
            let same_modulus = key.modulus.as_deref().map(|m| modulus_matches(&c.cert, m));
            match same_modulus {
                Some(m) => m && (same_id || key.id.is_empty() || c.id.is_empty()),
                None => same_id,
            }
        });
        let Some(ci) = found else { continue };
        used[ci] = true;
        let c = &certs[ci];
        let ku = key_usage(&c.cert)?;
        let (ku_sign, ku_decrypt) = match &ku {
            Some(k) => (
                k.digital_signature() || k.non_repudiation(),
                k.key_encipherment(),
            ),
            None => (true, true),
        };
        let role = if key.label == CPS_SIG_KEY_LABEL || c.label == CPS_SIG_CERT_LABEL {
            KeyRole::Signature
        } else if key.label == CPS_AUT_KEY_LABEL || c.label == CPS_AUT_CERT_LABEL {
            KeyRole::Authentication
        } else {
            match &ku {
                Some(k) if k.non_repudiation() && !k.key_encipherment() => KeyRole::Signature,
                _ => KeyRole::Unspecified,
            }
        };
        out.push(CardIdentity {
            shared: Arc::clone(shared),
            key: key.handle,
            key_label: key.label,
            cert_label: c.label.clone(),
            id: key.id,
            certificate: c.cert.clone(),
            chain: Vec::new(),
            role,
            can_sign: ku_sign && key.sign,
            can_decrypt: ku_decrypt && key.decrypt,
        });
    }
    // Chains: the unpaired certificates, following issuers up from each leaf.
    let others: Vec<&CertObject> = certs
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(c, _)| c)
        .collect();
    for ident in &mut out {
        let mut current = ident.certificate.clone();
        let mut seen: Vec<&[u8]> = Vec::new();
        while let Some(issuer) = others.iter().find(|c| {
            c.cert.tbs_certificate().subject() == current.tbs_certificate().issuer()
                && !seen.contains(&c.der.as_slice())
        }) {
            seen.push(&issuer.der);
            ident.chain.push(issuer.cert.clone());
            if issuer.cert.tbs_certificate().subject() == issuer.cert.tbs_certificate().issuer() {
                break;
            }
            current = issuer.cert.clone();
        }
    }
    Ok(out)
}

/// Whether `cert`'s RSA modulus is `modulus` (leading zeros ignored).
fn modulus_matches(cert: &Certificate, modulus: &[u8]) -> bool {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let Some(bits) = spki.subject_public_key.as_bytes() else {
        return false;
    };
    let Ok(key) = pkcs1::RsaPublicKeyRef::from_der(bits) else {
        return false;
    };
    let strip = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|x| *x == 0).collect() };
    strip(key.modulus.as_bytes()) == strip(modulus)
}

/// The certificate's keyUsage extension, if any.
fn key_usage(cert: &Certificate) -> Result<Option<KeyUsage>, CardError> {
    const ID_CE_KEY_USAGE: const_oid::ObjectIdentifier =
        const_oid::ObjectIdentifier::new_unwrap("2.5.29.15");
    let Some(exts) = cert.tbs_certificate().extensions() else {
        return Ok(None);
    };
    for ext in exts {
        if ext.extn_id == ID_CE_KEY_USAGE {
            let ku = KeyUsage::from_der(ext.extn_value.as_bytes())
                .map_err(|e| TokenError::Malformed(format!("keyUsage: {e}")))?;
            return Ok(Some(ku));
        }
    }
    Ok(None)
}

/// Whether an identity matches the URI's `object`, `id` and `type`.
fn object_matches(uri: &Pkcs11Uri, i: &CardIdentity) -> bool {
    let label_ok = uri
        .object
        .as_ref()
        .is_none_or(|o| *o == i.key_label || *o == i.cert_label);
    let id_ok = uri.id.as_ref().is_none_or(|id| *id == i.id);
    let type_ok = matches!(
        uri.object_type,
        None | Some(ObjectType::Private) | Some(ObjectType::Cert)
    );
    label_ok && id_ok && type_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    #[test]
    fn digest_info_matches_the_der_encoding() {
        for d in [
            DigestAlgorithm::Sha1,
            DigestAlgorithm::Sha224,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha384,
            DigestAlgorithm::Sha512,
        ] {
            let digest = vec![0xa5; d.output_len()];
            let ours = digest_info(d, &digest).expect("prefix");
            // DigestInfo ::= SEQUENCE { AlgorithmIdentifier (NULL params), OCTET STRING }
            let alg = spki::AlgorithmIdentifierOwned {
                oid: d.oid(),
                parameters: Some(der::asn1::Any::null()),
            };
            let mut body = alg.to_der().expect("alg");
            body.extend(
                der::asn1::OctetString::new(digest.clone())
                    .expect("octets")
                    .to_der()
                    .expect("der"),
            );
            let mut expected = vec![0x30, u8::try_from(body.len()).expect("short")];
            expected.extend(body);
            assert_eq!(ours, expected, "{d:?}");
        }
        assert!(digest_info(DigestAlgorithm::Md5, &[0; 16]).is_none());
    }

    #[test]
    fn cps_labels() {
        assert!(is_cps_label("CPS3 TEST"));
        assert!(is_cps_label("cps4 v1"));
        assert!(!is_cps_label("SoftHSM token"));
    }
}

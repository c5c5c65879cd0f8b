//! Loading a PKCS#11 module (a shared library) once per process.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

use super::{CardError, short_reason};

/// The environment variable naming the PKCS#11 module when none is given.
pub const MODULE_ENV: &str = "MSS_PKCS11_MODULE";

/// Modules loaded by this process, by path. `C_Initialize` may be called only once
/// per process and module, and every `Pkcs11Module` for one path shares the context.
static LOADED: OnceLock<Mutex<Vec<(PathBuf, Pkcs11)>>> = OnceLock::new();

/// A loaded and initialised PKCS#11 module. Cheap to clone.
#[derive(Clone)]
pub struct Pkcs11Module {
    ctx: Pkcs11,
    path: PathBuf,
}

impl std::fmt::Debug for Pkcs11Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Module")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A token present in one of a module's slots.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenSummary {
    /// The slot number.
    pub slot_id: u64,
    /// The token label (e.g. `CPS3 …`), trailing blanks removed.
    pub label: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Serial number.
    pub serial: String,
}

/// Which module to use: the URI's `module-path` (or `module-name`), else `explicit`
/// (`--module`), else the `MSS_PKCS11_MODULE` environment variable.
pub fn resolve_module_path(
    uri_path: Option<&Path>,
    uri_name: Option<&str>,
    explicit: Option<&Path>,
) -> Result<PathBuf, CardError> {
    if let Some(p) = uri_path {
        return Ok(p.to_path_buf());
    }
    if let Some(name) = uri_name {
        if name.is_empty() || name.contains(['/', '\\']) {
            return Err(CardError::Uri(format!(
                "module-name {name:?} must be a bare name (use module-path for a path)"
            )));
        }
        return Ok(PathBuf::from(format!("lib{name}.so")));
    }
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    match std::env::var_os(MODULE_ENV) {
        Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
        _ => Err(CardError::NoModule),
    }
}

impl Pkcs11Module {
    /// Load the module at `path` (or reuse it if this process already did) and
    /// initialise it for use from several threads (`CKF_OS_LOCKING_OK`).
    ///
    /// A path with a `/` must name an existing file; a bare name (`libfoo.so`) is
    /// searched on the system library path.
    pub fn load(path: &Path) -> Result<Self, CardError> {
        let load_error = |reason: String| CardError::ModuleLoad {
            path: path.to_path_buf(),
            reason,
        };
        let has_dir = path.components().count() > 1;
        if has_dir && !path.is_file() {
            return Err(load_error("no such file".into()));
        }
        let key = if has_dir {
            path.canonicalize().map_err(|e| load_error(e.to_string()))?
        } else {
            path.to_path_buf()
        };
        let registry = LOADED.get_or_init(|| Mutex::new(Vec::new()));
        let mut loaded = registry.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, ctx)) = loaded.iter().find(|(p, _)| *p == key) {
            return Ok(Pkcs11Module {
                ctx: ctx.clone(),
                path: key,
            });
        }
        let ctx = Pkcs11::new(&key).map_err(|e| load_error(short_reason(&e)))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(load_error(short_reason(&e))),
        }
        loaded.push((key.clone(), ctx.clone()));
        Ok(Pkcs11Module { ctx, path: key })
    }

    /// The module's path (canonical when it was given with a directory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokens (cards) present, in slot order.
    pub fn tokens(&self) -> Result<Vec<TokenSummary>, CardError> {
        let slots = self
            .ctx
            .get_slots_with_token()
            .map_err(|e| super::card_error(e, "C_GetSlotList"))?;
        let mut out = Vec::with_capacity(slots.len());
        for slot in slots {
            let info = match self.ctx.get_token_info(slot) {
                Ok(i) => i,
                // A card pulled out between the two calls is simply not present.
                Err(Error::Pkcs11(RvError::TokenNotPresent | RvError::DeviceRemoved, _)) => {
                    continue;
                }
                Err(e) => return Err(super::card_error(e, "C_GetTokenInfo")),
            };
            out.push(TokenSummary {
                slot_id: slot.id(),
                label: info.label().trim_end().to_owned(),
                manufacturer: info.manufacturer_id().trim_end().to_owned(),
                model: info.model().trim_end().to_owned(),
                serial: info.serial_number().trim_end().to_owned(),
            });
        }
        Ok(out)
    }

    pub(crate) fn context(&self) -> &Pkcs11 {
        &self.ctx
    }
}

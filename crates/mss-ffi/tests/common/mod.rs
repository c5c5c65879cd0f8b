//! Shared fixtures for the C ABI tests: a CA, three people, and RAII owners for handles.
#![allow(dead_code)]

use std::ffi::{CString, c_char};
use std::process::Command;
use std::ptr;
use std::sync::OnceLock;

use mss_ffi::*;
use mss_token::{CertificateAuthority, PersonProfile};

/// PEM texts made once per test binary.
pub struct People {
    /// The CA certificate (PEM).
    pub ca_cert: Vec<u8>,
    /// Alice's identity (unencrypted PEM: key, certificate, CA).
    pub alice: String,
    /// Bob's identity.
    pub bob: String,
    /// Carol's identity (never a recipient).
    pub carol: String,
}

pub fn people() -> &'static People {
    static PEOPLE: OnceLock<People> = OnceLock::new();
    PEOPLE.get_or_init(|| {
        use der::EncodePem;
        let ca = CertificateAuthority::new("mss-ffi test CA", 2048).expect("CA");
        let issue = |cn: &str, mail: &str| {
            ca.issue(&PersonProfile::new(cn, mail))
                .expect("issue")
                .to_pem()
                .expect("pem")
                .to_string()
        };
        People {
            ca_cert: ca
                .certificate()
                .to_pem(der::pem::LineEnding::LF)
                .expect("ca pem")
                .into_bytes(),
            alice: issue("Alice", "alice@example.org"),
            bob: issue("Bob", "bob@example.org"),
            carol: issue("Carol", "carol@example.org"),
        }
    })
}

/// Run openssl with `args` and `stdin`; panics with an install hint when it is missing.
pub fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): install it (bash scripts/install-deps.sh)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write");
    let out = child.wait_with_output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?} failed");
    out.stdout
}

/// Alice's identity as PEM with her key encrypted under `password` (PBES2, AES-256-CBC).
pub fn alice_encrypted_pem(password: &str) -> String {
    let pass = format!("pass:{password}");
    let key = openssl(
        &["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", &pass],
        people().alice.as_bytes(),
    );
    let mut pem = String::from_utf8(key).expect("utf8");
    let alice = &people().alice;
    let certs = &alice[alice.find("-----BEGIN CERTIFICATE-----").expect("cert")..];
    pem.push_str(certs);
    pem
}

/// Owns a context.
pub struct Ctx(pub *mut mss_context);

impl Ctx {
    /// A context trusting the test CA.
    pub fn trusting() -> Ctx {
        let ctx = Ctx::bare();
        let ca = &people().ca_cert;
        // SAFETY: live context; `ca` is a live slice.
        let st = unsafe { mss_context_add_trust_anchor(ctx.0, ca.as_ptr(), ca.len()) };
        assert_eq!(st, mss_status::MSS_OK);
        ctx
    }

    /// A context with no trust anchor.
    pub fn bare() -> Ctx {
        let mut p = ptr::null_mut();
        // SAFETY: `p` is writable.
        assert_eq!(unsafe { mss_context_new(&mut p) }, mss_status::MSS_OK);
        assert!(!p.is_null());
        Ctx(p)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: created by mss_context_new, freed once.
        unsafe { mss_context_free(self.0) }
    }
}

/// Owns an identity.
pub struct Id(pub *mut mss_identity);

impl Id {
    /// Open an unencrypted PEM identity (no PIN callback).
    pub fn pem(pem: &str) -> Id {
        let mut p = ptr::null_mut();
        // SAFETY: live slice, NULL label and callback, writable output.
        let st = unsafe {
            mss_identity_open_bytes(
                pem.as_ptr(),
                pem.len(),
                ptr::null(),
                None,
                ptr::null_mut(),
                &mut p,
            )
        };
        assert_eq!(st, mss_status::MSS_OK, "{}", last_error());
        Id(p)
    }

    /// The identity's certificate (DER).
    pub fn certificate(&self) -> Vec<u8> {
        let mut b = ptr::null_mut();
        // SAFETY: live identity, writable output.
        assert_eq!(
            unsafe { mss_identity_certificate(self.0, &mut b) },
            mss_status::MSS_OK
        );
        Buf(b).bytes()
    }
}

impl Drop for Id {
    fn drop(&mut self) {
        // SAFETY: created by mss_identity_open_*, freed once.
        unsafe { mss_identity_free(self.0) }
    }
}

/// Owns a buffer.
pub struct Buf(pub *mut mss_buffer);

impl Buf {
    /// A copy of the bytes.
    pub fn bytes(&self) -> Vec<u8> {
        // SAFETY: live buffer (or NULL); data/len describe its bytes.
        unsafe {
            let data = mss_buffer_data(self.0);
            let len = mss_buffer_len(self.0);
            assert!(!data.is_null());
            assert_eq!(*data.add(len), 0, "buffers are NUL-terminated");
            std::slice::from_raw_parts(data, len).to_vec()
        }
    }
}

impl Drop for Buf {
    fn drop(&mut self) {
        // SAFETY: returned by mss, freed once.
        unsafe { mss_buffer_free(self.0) }
    }
}

/// Owns a report.
pub struct Rep(pub *mut mss_report);

impl Rep {
    /// The report as parsed JSON.
    pub fn json(&self) -> serde_json::Value {
        let mut b = ptr::null_mut();
        // SAFETY: live report, writable output.
        assert_eq!(
            unsafe { mss_report_to_json(self.0, &mut b) },
            mss_status::MSS_OK
        );
        serde_json::from_slice(&Buf(b).bytes()).expect("report JSON")
    }
}

impl Drop for Rep {
    fn drop(&mut self) {
        // SAFETY: returned by mss_open, freed once.
        unsafe { mss_report_free(self.0) }
    }
}

/// The calling thread's last error message.
pub fn last_error() -> String {
    // SAFETY: NULL buffer with length 0 only asks for the length.
    let n = unsafe { mss_last_error_message(ptr::null_mut(), 0) };
    let mut buf = vec![0u8; n + 1];
    // SAFETY: `buf` has n + 1 writable bytes.
    let m = unsafe { mss_last_error_message(buf.as_mut_ptr().cast::<c_char>(), buf.len()) };
    assert_eq!(m, n);
    assert_eq!(buf[n], 0);
    buf.truncate(n);
    String::from_utf8(buf).expect("UTF-8 message")
}

/// A borrowed C string as Rust.
pub fn cstr(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: mss returns NUL-terminated strings that live as long as their report.
        Some(
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_str()
                .expect("UTF-8")
                .to_owned(),
        )
    }
}

/// A slice over `bytes`.
pub fn slice(bytes: &[u8]) -> mss_slice {
    mss_slice {
        data: bytes.as_ptr(),
        len: bytes.len(),
    }
}

/// A C string.
pub fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

pub const DRAFT: &[u8] = b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n\
Subject: test\r\n\r\nBonjour Bob, le compte rendu est joint.\r\n";

/// Open `msg` with `ids` under `ctx`; the status and, on success, the message and report.
pub fn open(ctx: &Ctx, ids: &[&Id], msg: &[u8]) -> (mss_status, Option<(Buf, Rep)>) {
    let ptrs: Vec<*const mss_identity> = ids.iter().map(|i| i.0 as *const _).collect();
    let mut m = ptr::null_mut();
    let mut r = ptr::null_mut();
    // SAFETY: live handles and slices; writable outputs.
    let st = unsafe {
        mss_open(
            ctx.0,
            if ptrs.is_empty() {
                ptr::null()
            } else {
                ptrs.as_ptr()
            },
            ptrs.len(),
            msg.as_ptr(),
            msg.len(),
            &mut m,
            &mut r,
        )
    };
    if st == mss_status::MSS_OK {
        (st, Some((Buf(m), Rep(r))))
    } else {
        assert!(m.is_null() && r.is_null(), "outputs written on failure");
        (st, None)
    }
}

/// Sign and encrypt `DRAFT` from `from` to `to`.
pub fn sign_encrypt(
    ctx: &Ctx,
    from: &Id,
    to: &[&[u8]],
    cipher: u32,
    flags: u32,
) -> (mss_status, Vec<u8>) {
    let slices: Vec<mss_slice> = to.iter().map(|c| slice(c)).collect();
    let mut out = ptr::null_mut();
    // SAFETY: live handles and slices; writable output.
    let st = unsafe {
        mss_sign_encrypt(
            ctx.0,
            from.0,
            slices.as_ptr(),
            slices.len(),
            cipher,
            flags,
            DRAFT.as_ptr(),
            DRAFT.len(),
            &mut out,
        )
    };
    if st == mss_status::MSS_OK {
        (st, Buf(out).bytes())
    } else {
        assert!(out.is_null(), "output written on failure");
        (st, Vec::new())
    }
}

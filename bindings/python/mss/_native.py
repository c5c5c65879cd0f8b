"""Loading libmss_ffi and declaring the C prototypes of bindings/c/mss.h (ctypes)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

__all__ = [
    "lib",
    "library_path",
    "Slice",
    "PIN_CALLBACK",
    "PROGRESS_CALLBACK",
    "READ_CALLBACK",
    "WRITE_CALLBACK",
]


class Slice(Structure):
    """`mss_slice`: a borrowed byte slice."""

    _fields_ = [("data", c_void_p), ("len", c_size_t)]


#: `mss_pin_callback`
PIN_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_char_p, c_int, POINTER(c_char), c_size_t)
#: `mss_progress_callback`
PROGRESS_CALLBACK = CFUNCTYPE(None, c_void_p, c_uint64, c_uint64)
#: `mss_read_callback`
READ_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, POINTER(c_size_t))
#: `mss_write_callback`
WRITE_CALLBACK = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, POINTER(c_size_t))


def library_path() -> str:
    """Where libmss_ffi is: $MSS_LIBRARY, else the system's search path, else the
    workspace's cargo target directory ($CARGO_TARGET_DIR or ./target, debug then release).
    """
    env = os.environ.get("MSS_LIBRARY")
    if env:
        return env
    found = ctypes.util.find_library("mss_ffi")
    if found:
        return found
    repo = Path(__file__).resolve().parents[3]
    target = Path(os.environ.get("CARGO_TARGET_DIR", repo / "target"))
    for profile in ("debug", "release"):
        candidate = target / profile / "libmss_ffi.so"
        if candidate.exists():
            return str(candidate)
    raise OSError(
        "libmss_ffi not found: build it with `cargo build -p mss-ffi` and set MSS_LIBRARY "
        "to the path of libmss_ffi.so"
    )


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(library_path())
    status = c_uint32
    p = c_void_p  # opaque handles
    pp = POINTER(c_void_p)
    u8p = c_void_p
    protos = {
        "mss_version": (c_char_p, []),
        "mss_last_error_message": (c_size_t, [c_void_p, c_size_t]),
        "mss_buffer_data": (c_void_p, [p]),
        "mss_buffer_len": (c_size_t, [p]),
        "mss_buffer_free": (None, [p]),
        "mss_context_new": (status, [pp]),
        "mss_context_free": (None, [p]),
        "mss_context_add_trust_anchor": (status, [p, u8p, c_size_t]),
        "mss_context_add_certificate": (status, [p, u8p, c_size_t]),
        "mss_context_set_policy": (status, [p, c_uint32]),
        "mss_context_set_revocation": (status, [p, c_uint32, c_bool]),
        "mss_context_set_progress": (status, [p, PROGRESS_CALLBACK, c_void_p]),
        "mss_identity_open_file": (status, [c_char_p, PIN_CALLBACK, c_void_p, pp]),
        "mss_identity_open_bytes": (
            status,
            [u8p, c_size_t, c_char_p, PIN_CALLBACK, c_void_p, pp],
        ),
        "mss_identity_certificate": (status, [p, pp]),
        "mss_identity_free": (None, [p]),
        "mss_sign": (status, [p, p, u8p, c_size_t, c_uint32, pp]),
        "mss_encrypt": (
            status,
            [p, p, POINTER(Slice), POINTER(Slice), c_size_t, c_uint32, c_uint32, u8p, c_size_t, pp],
        ),
        "mss_sign_encrypt": (
            status,
            [p, p, POINTER(Slice), c_size_t, c_uint32, c_uint32, u8p, c_size_t, pp],
        ),
        "mss_secure_reply": (
            status,
            [p, c_uint32, p, POINTER(Slice), c_size_t, c_uint32, c_uint32, u8p, c_size_t, pp],
        ),
        "mss_open": (status, [p, POINTER(c_void_p), c_size_t, u8p, c_size_t, pp, pp]),
        "mss_sign_stream": (
            status,
            [p, p, c_uint32, READ_CALLBACK, c_void_p, WRITE_CALLBACK, c_void_p, c_uint64],
        ),
        "mss_encrypt_stream": (
            status,
            [
                p, p, POINTER(Slice), POINTER(Slice), c_size_t, c_uint32, c_uint32,
                READ_CALLBACK, c_void_p, WRITE_CALLBACK, c_void_p, c_uint64,
            ],
        ),
        "mss_sign_encrypt_stream": (
            status,
            [
                p, p, POINTER(Slice), c_size_t, c_uint32, c_uint32,
                READ_CALLBACK, c_void_p, WRITE_CALLBACK, c_void_p, c_uint64,
            ],
        ),
        "mss_secure_reply_stream": (
            status,
            [
                p, c_uint32, p, POINTER(Slice), c_size_t, c_uint32, c_uint32,
                READ_CALLBACK, c_void_p, WRITE_CALLBACK, c_void_p, c_uint64,
            ],
        ),
        "mss_open_stream": (
            status,
            [
                p, POINTER(c_void_p), c_size_t,
                READ_CALLBACK, c_void_p, WRITE_CALLBACK, c_void_p, c_uint64, pp,
            ],
        ),
        "mss_report_is_encrypted": (c_bool, [p]),
        "mss_report_is_authenticated_encryption": (c_bool, [p]),
        "mss_report_is_signed": (c_bool, [p]),
        "mss_report_all_signatures_valid": (c_bool, [p]),
        "mss_report_is_fully_signed": (c_bool, [p]),
        "mss_report_signature_count": (c_size_t, [p]),
        "mss_report_signature_status": (c_uint32, [p, c_size_t]),
        "mss_report_signer_subject": (c_char_p, [p, c_size_t]),
        "mss_report_signer_email": (c_char_p, [p, c_size_t]),
        "mss_report_signature_detail": (c_char_p, [p, c_size_t]),
        "mss_report_content_cipher": (c_char_p, [p]),
        "mss_report_key_transport": (c_char_p, [p]),
        "mss_report_warning_count": (c_size_t, [p]),
        "mss_report_warning": (c_char_p, [p, c_size_t]),
        "mss_reply_level": (c_uint32, [p]),
        "mss_report_to_json": (status, [p, pp]),
        "mss_report_free": (None, [p]),
    }
    for name, (restype, argtypes) in protos.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()

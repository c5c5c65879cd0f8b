"""mss: S/MIME for the Messagerie Securisee de Sante, over the C API (libmss_ffi) with ctypes.

    import mss

    with mss.Context() as ctx, mss.Identity.open_file("alice.p12", pin="secret") as alice:
        ctx.add_trust_anchor(open("ca.pem", "rb").read())
        sent = ctx.sign_encrypt(alice, draft, recipients=[bob_certificate])
        with ctx.open(sent, identities=[alice]) as opened:
            print(opened.report.signatures[0].status, opened.message)

Messages larger than memory go through the `*_stream` methods (`sign_encrypt_stream`,
`open_stream`…), which read from and write to binary file objects:

    with open("draft.eml", "rb") as src, open("sent.eml", "wb") as dst:
        ctx.sign_encrypt_stream(alice, src, dst, recipients=[bob_certificate])

Handles (`Context`, `Identity`, `Report`) are freed by `close()` or at the end of a `with`
block (and, as a last resort, by the garbage collector). Errors are `mss.MssError`
subclasses, one per status range (see `mss.errors`). The library is found through the
MSS_LIBRARY environment variable (see `mss._native.library_path`).
"""

from __future__ import annotations

import ctypes
import enum
import errno
import json
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, Union

from . import errors
from ._native import PIN_CALLBACK, PROGRESS_CALLBACK, READ_CALLBACK, WRITE_CALLBACK, Slice, lib
from .errors import (
    BadPasswordError,
    CancelledError,
    CryptoError,
    DecryptionFailedError,
    DirectoryError,
    IdentityError,
    InternalError,
    InvalidArgumentError,
    InvalidCertificateError,
    MalformedMessageError,
    MessageError,
    MssError,
    NotARecipientError,
    PolicyViolationError,
    UsageError,
)

__all__ = [
    "Cipher",
    "Context",
    "Identity",
    "Opened",
    "Policy",
    "Report",
    "SecurityLevel",
    "Signature",
    "SignatureStatus",
    "version",
    "MssError",
    "UsageError",
    "CryptoError",
    "MessageError",
    "IdentityError",
    "DirectoryError",
    "InvalidArgumentError",
    "InternalError",
    "InvalidCertificateError",
    "PolicyViolationError",
    "MalformedMessageError",
    "NotARecipientError",
    "DecryptionFailedError",
    "BadPasswordError",
    "CancelledError",
    "errors",
]

SIGN_OPAQUE = 1
SIGN_PSS = 2
SIGN_SHA384 = 4
SIGN_SHA512 = 8
ENCRYPT_OAEP = 0x100
_PIN_BUFFER_MAX = 1 << 16


class Policy(enum.IntEnum):
    """`mss_policy`."""

    STANDARD = 0
    LEGACY = 1


class Cipher(enum.IntEnum):
    """`mss_cipher`."""

    DEFAULT = 0
    AES128_CBC = 1
    AES192_CBC = 2
    AES256_CBC = 3
    DES_EDE3_CBC = 4
    AES128_GCM = 5
    AES256_GCM = 6


class SecurityLevel(enum.IntEnum):
    """`mss_security_level`."""

    NONE = 0
    SIGNED = 1
    ENCRYPTED = 2
    SIGNED_ENCRYPTED = 3


class SignatureStatus(enum.IntEnum):
    """`mss_signature_status`."""

    NONE = 0
    VALID = 1
    INVALID = 2
    UNTRUSTED = 3
    EXPIRED = 4
    REVOKED = 5
    UNKNOWN = 6


def version() -> str:
    """The library version."""
    return lib.mss_version().decode()


def _last_error() -> str:
    n = lib.mss_last_error_message(None, 0)
    buf = ctypes.create_string_buffer(n + 1)
    lib.mss_last_error_message(buf, n + 1)
    return buf.value.decode("utf-8", "replace")


def _check(status: int) -> None:
    if status != 0:
        raise errors.error_for(status, _last_error())


def _take_buffer(handle: ctypes.c_void_p) -> bytes:
    """Copy a `mss_buffer` into bytes and free it."""
    try:
        return ctypes.string_at(lib.mss_buffer_data(handle), lib.mss_buffer_len(handle))
    finally:
        lib.mss_buffer_free(handle)


def _bytes_arg(data: Union[bytes, bytearray, memoryview], what: str):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(data).__name__}")
    data = bytes(data)
    # A non-NULL pointer even for b"" (NULL means "argument missing" to the C API).
    return (ctypes.c_char * max(len(data), 1)).from_buffer_copy(data or b"\0"), len(data)


def _slices(certs: Sequence[bytes]):
    keep = [_bytes_arg(c, "certificate") for c in certs]
    array = (Slice * max(len(keep), 1))()
    for i, (buf, n) in enumerate(keep):
        array[i].data = ctypes.cast(buf, ctypes.c_void_p)
        array[i].len = n
    return array, len(keep), keep


def _sender_slice(certificate: Optional[bytes]):
    """A pointer to an `mss_slice` of `certificate` (None when it is None), and what
    keeps its bytes alive during the call."""
    if certificate is None:
        return None, None
    buf, n = _bytes_arg(certificate, "sender_certificate")
    return ctypes.pointer(Slice(ctypes.cast(buf, ctypes.c_void_p), n)), buf


def _flags(opaque: bool, pss: bool, digest: str) -> int:
    flags = (SIGN_OPAQUE if opaque else 0) | (SIGN_PSS if pss else 0)
    digests = {"sha256": 0, "sha384": SIGN_SHA384, "sha512": SIGN_SHA512}
    if digest not in digests:
        raise ValueError(f"digest must be one of {sorted(digests)}")
    return flags | digests[digest]


class _Handle:
    """An owned native handle, freed once by `close()`."""

    _free = None

    def __init__(self, handle: ctypes.c_void_p):
        self._handle = handle

    @property
    def _ptr(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._handle

    @property
    def closed(self) -> bool:
        """Whether the native handle has been freed."""
        return self._handle is None

    def close(self) -> None:
        """Free the native handle (idempotent)."""
        if self._handle is not None:
            handle, self._handle = self._handle, None
            type(self)._free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


PinSource = Union[None, str, bytes, Callable[[str, Optional[int]], Optional[Union[str, bytes]]]]


class _PinCallback:
    """Adapts a password, or a Python callable (the application's dialog), to
    `mss_pin_callback`. An exception in the callable cancels the request and is re-raised
    by the caller of the C function."""

    def __init__(self, pin: PinSource):
        self.pin = pin
        self.error: Optional[BaseException] = None
        self.c = PIN_CALLBACK(self._call) if pin is not None else PIN_CALLBACK()

    def _call(self, _userdata, prompt, retries_left, buf, buf_len):
        try:
            value = self.pin
            if callable(value):
                value = value(prompt.decode("utf-8", "replace"), None if retries_left < 0 else retries_left)
            if value is None:
                return -1
            secret = bytearray(value.encode() if isinstance(value, str) else value)
            try:
                if len(secret) > min(buf_len, _PIN_BUFFER_MAX):
                    raise ValueError("PIN too long")
                ctypes.memmove(buf, (ctypes.c_char * max(len(secret), 1)).from_buffer(secret or bytearray(1)), len(secret))
                return len(secret)
            finally:
                secret[:] = bytes(len(secret))
        except BaseException as e:  # re-raised after the C call returns
            self.error = e
            return -1


class Identity(_Handle):
    """`mss_identity`: a certificate, its chain and a private key. Immutable; thread-safe.

    `pin`: the password as `str`/`bytes`, or a callable `(prompt, retries_left) -> str |
    bytes | None` (None cancels) — your own dialog. Python strings cannot be wiped: the
    library zeroes its copy, the caller's remains until garbage-collected.
    """

    _free = staticmethod(lib.mss_identity_free)

    @classmethod
    def open_file(cls, path: Union[str, "os.PathLike[str]"], pin: PinSource = None) -> "Identity":
        """Open a PEM or PKCS#12 file."""
        cb = _PinCallback(pin)
        out = ctypes.c_void_p()
        status = lib.mss_identity_open_file(os.fsencode(path), cb.c, None, ctypes.byref(out))
        if cb.error is not None:
            if status == 0:
                lib.mss_identity_free(out)
            raise cb.error
        _check(status)
        return cls(out)

    @classmethod
    def from_bytes(cls, data: bytes, label: str = "identity", pin: PinSource = None) -> "Identity":
        """Open PEM text or DER PKCS#12 bytes; `label` names them in the PIN prompt."""
        cb = _PinCallback(pin)
        buf, n = _bytes_arg(data, "data")
        out = ctypes.c_void_p()
        status = lib.mss_identity_open_bytes(buf, n, label.encode(), cb.c, None, ctypes.byref(out))
        if cb.error is not None:
            if status == 0:
                lib.mss_identity_free(out)
            raise cb.error
        _check(status)
        return cls(out)

    @property
    def certificate(self) -> bytes:
        """The identity's certificate (DER)."""
        out = ctypes.c_void_p()
        _check(lib.mss_identity_certificate(self._ptr, ctypes.byref(out)))
        return _take_buffer(out)


@dataclass(frozen=True)
class Signature:
    """One signer's verdict."""

    status: SignatureStatus
    subject: str
    email: Optional[str]
    detail: Optional[str]

    @property
    def valid(self) -> bool:
        """Cryptographically valid and trusted."""
        return self.status == SignatureStatus.VALID


def _s(p: Optional[bytes]) -> Optional[str]:
    return None if p is None else p.decode("utf-8", "replace")


class Report(_Handle):
    """`mss_report`: what protected an opened message and who signed it."""

    _free = staticmethod(lib.mss_report_free)

    @property
    def encrypted(self) -> bool:
        """Was the message encrypted?"""
        return bool(lib.mss_report_is_encrypted(self._ptr))

    @property
    def authenticated_encryption(self) -> bool:
        """Was the encryption integrity-protected (AES-GCM)?"""
        return bool(lib.mss_report_is_authenticated_encryption(self._ptr))

    @property
    def signed(self) -> bool:
        """Did any layer carry a signature?"""
        return bool(lib.mss_report_is_signed(self._ptr))

    @property
    def all_signatures_valid(self) -> bool:
        """At least one signature, and all valid and trusted."""
        return bool(lib.mss_report_all_signatures_valid(self._ptr))

    @property
    def fully_signed(self) -> bool:
        """The whole displayed message is covered by valid, trusted signatures, with no
        partial-signature or signer-mismatch warning (the CLI's exit 0 when signed)."""
        return bool(lib.mss_report_is_fully_signed(self._ptr))

    @property
    def content_cipher(self) -> Optional[str]:
        """e.g. `aes-256-cbc`, or None when not encrypted."""
        return _s(lib.mss_report_content_cipher(self._ptr))

    @property
    def key_transport(self) -> Optional[str]:
        """e.g. `rsa-oaep-sha256`, or None when not encrypted."""
        return _s(lib.mss_report_key_transport(self._ptr))

    @property
    def signatures(self) -> list:
        """Every signer of every layer."""
        p = self._ptr
        return [
            Signature(
                status=SignatureStatus(lib.mss_report_signature_status(p, i)),
                subject=_s(lib.mss_report_signer_subject(p, i)) or "",
                email=_s(lib.mss_report_signer_email(p, i)),
                detail=_s(lib.mss_report_signature_detail(p, i)),
            )
            for i in range(lib.mss_report_signature_count(p))
        ]

    @property
    def warnings(self) -> list:
        """Warnings (`weak-algorithm: …`, `unauthenticated-encryption`, …)."""
        p = self._ptr
        return [_s(lib.mss_report_warning(p, i)) for i in range(lib.mss_report_warning_count(p))]

    @property
    def reply_level(self) -> SecurityLevel:
        """The level a reply or forward must keep."""
        return SecurityLevel(lib.mss_reply_level(self._ptr))

    def to_json(self) -> dict:
        """The report as the JSON document of `mss_report_to_json`, parsed."""
        out = ctypes.c_void_p()
        _check(lib.mss_report_to_json(self._ptr, ctypes.byref(out)))
        return json.loads(_take_buffer(out))


@dataclass
class Opened:
    """The result of `Context.open`: the clear MIME message and its report. A context
    manager that closes the report."""

    message: bytes
    report: Report

    def __enter__(self) -> "Opened":
        return self

    def __exit__(self, *exc) -> None:
        self.report.close()


class _Pipe:
    """The read and write callbacks of one streaming call, over binary file objects.

    `source` needs `readinto(buffer)` or `read(n)`; `sink` needs `write(bytes)` (a short
    write is fine). An exception raised by either stops the call; it is kept and raised
    again once the call has returned (`_Pipe.error`)."""

    def __init__(self, source, sink):
        self.error: Optional[BaseException] = None
        readinto = getattr(source, "readinto", None)

        def read(_userdata, buf, n, out_n):
            try:
                if readinto is not None:
                    k = readinto(memoryview((ctypes.c_char * n).from_address(buf)).cast("B"))
                    k = 0 if k is None else k
                else:
                    data = source.read(n) or b""
                    k = len(data)
                    if k > n:
                        raise ValueError(f"read({n}) gave {k} bytes")
                    ctypes.memmove(buf, bytes(data), k)
                out_n[0] = k
                return 0
            except BaseException as e:  # raised again after the C call returns
                self.error = e
                return errno.EIO

        def write(_userdata, buf, n, out_n):
            try:
                k = sink.write(ctypes.string_at(buf, n))
                out_n[0] = n if k is None else k
                return 0
            except BaseException as e:  # raised again after the C call returns
                self.error = e
                return errno.EIO

        # Kept alive by this object for the duration of the call.
        self.read = READ_CALLBACK(read)
        self.write = WRITE_CALLBACK(write)


class Context(_Handle):
    """`mss_context`: trust anchors, other certificates, policy, progress callback.

    Configure it from one thread; afterwards operations may run from several threads.
    """

    _free = staticmethod(lib.mss_context_free)

    def __init__(self, policy: Policy = Policy.STANDARD):
        out = ctypes.c_void_p()
        _check(lib.mss_context_new(ctypes.byref(out)))
        super().__init__(out)
        self._progress = None
        self._progress_error: Optional[BaseException] = None
        if policy != Policy.STANDARD:
            self.set_policy(policy)

    def add_trust_anchor(self, certificates: bytes) -> None:
        """Trust one DER certificate or a PEM bundle."""
        buf, n = _bytes_arg(certificates, "certificates")
        _check(lib.mss_context_add_trust_anchor(self._ptr, buf, n))

    def add_certificate(self, certificates: bytes) -> None:
        """Add intermediate or correspondents' certificates (not trusted by themselves)."""
        buf, n = _bytes_arg(certificates, "certificates")
        _check(lib.mss_context_add_certificate(self._ptr, buf, n))

    def set_policy(self, policy: Policy) -> None:
        """Standard (default) or legacy algorithm policy."""
        _check(lib.mss_context_set_policy(self._ptr, int(policy)))

    def set_progress(self, callback: Optional[Callable[[int, int], None]]) -> None:
        """`callback(done, total)` at the start and the end of each operation, or None."""
        if callback is None:
            c = PROGRESS_CALLBACK()
        else:

            def trampoline(_userdata, done, total):
                try:
                    callback(done, total)
                except BaseException as e:  # re-raised after the C call returns
                    self._progress_error = e

            c = PROGRESS_CALLBACK(trampoline)
        _check(lib.mss_context_set_progress(self._ptr, c, None))
        self._progress = c  # keep the trampoline alive as long as the context uses it

    def _call(self, fn, *args, pipe: Optional[_Pipe] = None) -> None:
        self._progress_error = None
        status = fn(*args)
        if pipe is not None and pipe.error is not None:
            raise pipe.error
        if self._progress_error is not None:
            error, self._progress_error = self._progress_error, None
            raise error
        _check(status)

    def sign(
        self,
        identity: Identity,
        message: bytes,
        *,
        opaque: bool = False,
        pss: bool = False,
        digest: str = "sha256",
    ) -> bytes:
        """Sign an RFC 5322 draft (detached `multipart/signed` unless `opaque`)."""
        buf, n = _bytes_arg(message, "message")
        out = ctypes.c_void_p()
        self._call(lib.mss_sign, self._ptr, identity._ptr, buf, n, _flags(opaque, pss, digest), ctypes.byref(out))
        return _take_buffer(out)

    def encrypt(
        self,
        message: bytes,
        recipients: Iterable[bytes],
        *,
        sender: Optional[Identity] = None,
        sender_certificate: Optional[bytes] = None,
        cipher: Cipher = Cipher.DEFAULT,
        oaep: bool = False,
    ) -> bytes:
        """Encrypt (without signing) to `recipients` and the sender (an identity or a
        certificate: exactly one)."""
        buf, n = _bytes_arg(message, "message")
        array, count, _keep = _slices(list(recipients))
        sender_slice, _keep_sender = _sender_slice(sender_certificate)
        out = ctypes.c_void_p()
        self._call(
            lib.mss_encrypt,
            self._ptr,
            sender._ptr if sender is not None else None,
            sender_slice,
            array,
            count,
            int(cipher),
            ENCRYPT_OAEP if oaep else 0,
            buf,
            n,
            ctypes.byref(out),
        )
        return _take_buffer(out)

    def sign_encrypt(
        self,
        identity: Identity,
        message: bytes,
        recipients: Iterable[bytes],
        *,
        cipher: Cipher = Cipher.DEFAULT,
        oaep: bool = False,
        opaque: bool = False,
        pss: bool = False,
        digest: str = "sha256",
    ) -> bytes:
        """Sign with `identity`, then encrypt to `recipients` and to the signer."""
        buf, n = _bytes_arg(message, "message")
        array, count, _keep = _slices(list(recipients))
        flags = _flags(opaque, pss, digest) | (ENCRYPT_OAEP if oaep else 0)
        out = ctypes.c_void_p()
        self._call(
            lib.mss_sign_encrypt, self._ptr, identity._ptr, array, count, int(cipher), flags, buf, n, ctypes.byref(out)
        )
        return _take_buffer(out)

    def secure_reply(
        self,
        level: SecurityLevel,
        identity: Identity,
        message: bytes,
        recipients: Iterable[bytes] = (),
        *,
        cipher: Cipher = Cipher.DEFAULT,
    ) -> bytes:
        """Secure a reply at `level` (normally `report.reply_level` of the original)."""
        buf, n = _bytes_arg(message, "message")
        array, count, _keep = _slices(list(recipients))
        out = ctypes.c_void_p()
        self._call(
            lib.mss_secure_reply,
            self._ptr,
            int(level),
            identity._ptr,
            array,
            count,
            int(cipher),
            0,
            buf,
            n,
            ctypes.byref(out),
        )
        return _take_buffer(out)

    def open(self, message: bytes, identities: Sequence[Identity] = ()) -> Opened:
        """Open a received message; a bad signature is a verdict in the report, not an
        exception."""
        buf, n = _bytes_arg(message, "message")
        ids = list(identities)
        array = (ctypes.c_void_p * max(len(ids), 1))(*[i._ptr for i in ids])
        out_message = ctypes.c_void_p()
        out_report = ctypes.c_void_p()
        self._call(
            lib.mss_open,
            self._ptr,
            array,
            len(ids),
            buf,
            n,
            ctypes.byref(out_message),
            ctypes.byref(out_report),
        )
        report = Report(out_report)
        return Opened(message=_take_buffer(out_message), report=report)

    # Streaming: messages of any size in bounded memory. `source` and `sink` are binary
    # file objects (see `_Pipe`); `total`, the length of the input when known, is given
    # to the progress callback. An exception raised by `source` or `sink` stops the call
    # and is raised as it was; other failures raise `MssError` as the in-memory calls do.

    def sign_stream(
        self,
        identity: Identity,
        source,
        sink,
        *,
        opaque: bool = False,
        pss: bool = False,
        digest: str = "sha256",
        total: int = 0,
    ) -> None:
        """`sign`, streaming: the draft read from `source`, the message written to `sink`."""
        pipe = _Pipe(source, sink)
        self._call(
            lib.mss_sign_stream,
            self._ptr,
            identity._ptr,
            _flags(opaque, pss, digest),
            pipe.read,
            None,
            pipe.write,
            None,
            total,
            pipe=pipe,
        )

    def encrypt_stream(
        self,
        source,
        sink,
        recipients: Iterable[bytes],
        *,
        sender: Optional[Identity] = None,
        sender_certificate: Optional[bytes] = None,
        cipher: Cipher = Cipher.DEFAULT,
        oaep: bool = False,
        total: int = 0,
    ) -> None:
        """`encrypt`, streaming."""
        array, count, _keep = _slices(list(recipients))
        sender_slice, _keep_sender = _sender_slice(sender_certificate)
        pipe = _Pipe(source, sink)
        self._call(
            lib.mss_encrypt_stream,
            self._ptr,
            sender._ptr if sender is not None else None,
            sender_slice,
            array,
            count,
            int(cipher),
            ENCRYPT_OAEP if oaep else 0,
            pipe.read,
            None,
            pipe.write,
            None,
            total,
            pipe=pipe,
        )

    def sign_encrypt_stream(
        self,
        identity: Identity,
        source,
        sink,
        recipients: Iterable[bytes],
        *,
        cipher: Cipher = Cipher.DEFAULT,
        oaep: bool = False,
        opaque: bool = False,
        pss: bool = False,
        digest: str = "sha256",
        total: int = 0,
    ) -> None:
        """`sign_encrypt`, streaming: the usual way to send a large message."""
        array, count, _keep = _slices(list(recipients))
        flags = _flags(opaque, pss, digest) | (ENCRYPT_OAEP if oaep else 0)
        pipe = _Pipe(source, sink)
        self._call(
            lib.mss_sign_encrypt_stream,
            self._ptr,
            identity._ptr,
            array,
            count,
            int(cipher),
            flags,
            pipe.read,
            None,
            pipe.write,
            None,
            total,
            pipe=pipe,
        )

    def secure_reply_stream(
        self,
        level: SecurityLevel,
        identity: Identity,
        source,
        sink,
        recipients: Iterable[bytes] = (),
        *,
        cipher: Cipher = Cipher.DEFAULT,
        total: int = 0,
    ) -> None:
        """`secure_reply`, streaming: a reply or forward carrying a large attachment on."""
        array, count, _keep = _slices(list(recipients))
        pipe = _Pipe(source, sink)
        self._call(
            lib.mss_secure_reply_stream,
            self._ptr,
            int(level),
            identity._ptr,
            array,
            count,
            int(cipher),
            0,
            pipe.read,
            None,
            pipe.write,
            None,
            total,
            pipe=pipe,
        )

    def open_stream(self, source, sink, identities: Sequence[Identity] = (), *, total: int = 0) -> Report:
        """`open`, streaming: the clear message is written to `sink` as it is decrypted.

        It is written before the end of the message is checked: when this raises,
        discard what `sink` received (write to a temporary file, keep it only on
        success). On success, the report says whether to believe it, as for `open`.
        """
        ids = list(identities)
        array = (ctypes.c_void_p * max(len(ids), 1))(*[i._ptr for i in ids])
        out_report = ctypes.c_void_p()
        pipe = _Pipe(source, sink)
        self._call(
            lib.mss_open_stream,
            self._ptr,
            array,
            len(ids),
            pipe.read,
            None,
            pipe.write,
            None,
            total,
            ctypes.byref(out_report),
            pipe=pipe,
        )
        return Report(out_report)

"""Exceptions for `mss_status` values: one class per range, a subclass for the statuses a
caller is likely to handle on their own."""

from __future__ import annotations


class MssError(Exception):
    """A call failed. `status` is the `mss_status` number, `message` the library's reason."""

    def __init__(self, status: int, message: str):
        super().__init__(f"[{status}] {message}")
        self.status = status
        self.message = message


class UsageError(MssError):
    """1xxx: arguments, buffers, files, internal errors."""


class CryptoError(MssError):
    """2xxx: cryptography and algorithm policy."""


class MessageError(MssError):
    """3xxx: the message (malformed, not addressed to us, decryption failed)."""


class IdentityError(MssError):
    """4xxx: identities (password, PIN, key files)."""


class DirectoryError(MssError):
    """5xxx: the certificate directory (reserved)."""


class InvalidArgumentError(UsageError):
    """1002 MSS_INVALID_ARGUMENT."""


class InternalError(UsageError):
    """1004 MSS_INTERNAL_ERROR: a bug in mss (a panic caught at the boundary)."""


class InvalidCertificateError(UsageError):
    """1008 MSS_INVALID_CERTIFICATE."""


class PolicyViolationError(CryptoError):
    """2001 MSS_POLICY_VIOLATION."""


class MalformedMessageError(MessageError):
    """3001 MSS_MALFORMED_MESSAGE."""


class NotARecipientError(MessageError):
    """3002 MSS_NOT_A_RECIPIENT."""


class DecryptionFailedError(MessageError):
    """3003 MSS_DECRYPTION_FAILED."""


class BadPasswordError(IdentityError):
    """4001 MSS_BAD_PASSWORD."""


class CancelledError(IdentityError):
    """4002 MSS_CANCELLED."""


_BY_STATUS = {
    1002: InvalidArgumentError,
    1004: InternalError,
    1008: InvalidCertificateError,
    2001: PolicyViolationError,
    3001: MalformedMessageError,
    3002: NotARecipientError,
    3003: DecryptionFailedError,
    4001: BadPasswordError,
    4002: CancelledError,
}

_BY_RANGE = {
    1: UsageError,
    2: CryptoError,
    3: MessageError,
    4: IdentityError,
    5: DirectoryError,
}


def error_for(status: int, message: str) -> MssError:
    """The exception for a non-zero status."""
    cls = _BY_STATUS.get(status) or _BY_RANGE.get(status // 1000, MssError)
    return cls(status, message)

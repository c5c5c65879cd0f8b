"""The Python binding against the built library: sign, encrypt, open, errors, handles."""

from __future__ import annotations

import json

import pytest

import mss
from conftest import PASSWORD

DRAFT = (
    b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
    b"Subject: test\r\n\r\nBonjour Bob, voici le compte rendu.\r\n"
)


@pytest.fixture
def ctx(pki):
    with mss.Context() as c:
        c.add_trust_anchor((pki / "ca.pem").read_bytes())
        yield c


@pytest.fixture
def alice(pki):
    with mss.Identity.open_file(pki / "alice.pem") as i:
        yield i


@pytest.fixture
def bob(pki):
    with mss.Identity.open_file(pki / "bob.p12", pin=PASSWORD) as i:
        yield i


def test_version():
    assert mss.version() == "0.1.0"


def test_sign_encrypt_open(ctx, alice, bob, pki):
    sent = ctx.sign_encrypt(alice, DRAFT, [bob.certificate], cipher=mss.Cipher.AES256_GCM, oaep=True)
    assert b"application/pkcs7-mime" in sent
    with ctx.open(sent, identities=[bob]) as opened:
        assert b"voici le compte rendu" in opened.message
        r = opened.report
        assert r.encrypted and r.signed and r.authenticated_encryption
        assert r.content_cipher == "aes-256-gcm"
        assert r.key_transport == "rsa-oaep-sha256"
        assert r.all_signatures_valid
        assert r.fully_signed
        [sig] = r.signatures
        assert sig.valid and sig.status is mss.SignatureStatus.VALID
        assert sig.email == "alice@example.org"
        assert "Alice" in sig.subject
        assert r.warnings == []
        assert r.reply_level is mss.SecurityLevel.SIGNED_ENCRYPTED
        doc = r.to_json()
        assert doc["signatures"][0]["status"] == "valid"
    assert opened.report.closed
    with pytest.raises(ValueError):
        opened.report.encrypted


def test_pin_callback_is_the_dialog(pki, ctx):
    prompts = []

    def dialog(prompt, retries_left):
        prompts.append((prompt, retries_left))
        return PASSWORD

    with mss.Identity.open_file(pki / "alice-encrypted.pem", pin=dialog) as alice:
        signed = ctx.sign(alice, DRAFT, opaque=True, pss=True, digest="sha384")
    assert prompts == [("password for alice-encrypted.pem", None)]
    with ctx.open(signed) as opened:
        assert opened.report.signatures[0].valid
        assert "pss" in opened.report.to_json()["signatures"][0]["signature_algorithm"]


def test_identity_errors(pki):
    with pytest.raises(mss.BadPasswordError) as e:
        mss.Identity.open_file(pki / "bob.p12", pin="wrong")
    assert e.value.status == 4001 and isinstance(e.value, mss.IdentityError)
    with pytest.raises(mss.CancelledError):
        mss.Identity.open_file(pki / "bob.p12", pin=lambda prompt, retries: None)
    with pytest.raises(mss.CancelledError):
        mss.Identity.open_file(pki / "bob.p12")

    class Boom(Exception):
        pass

    def exploding(prompt, retries):
        raise Boom("dialog closed")

    with pytest.raises(Boom):
        mss.Identity.open_file(pki / "bob.p12", pin=exploding)
    with pytest.raises(mss.UsageError) as e:
        mss.Identity.open_file(pki / "missing.p12", pin="x")
    assert e.value.status == 1007 and "missing.p12" in e.value.message
    with pytest.raises(mss.IdentityError):
        mss.Identity.from_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with mss.Identity.from_bytes((pki / "bob.p12").read_bytes(), label="bob", pin=PASSWORD.encode()) as b:
        assert b.certificate.startswith(b"\x30")


def test_untrusted_and_tampered_signatures(pki, alice):
    with mss.Context() as ctx:
        signed = ctx.sign(alice, DRAFT)
        with ctx.open(signed) as opened:
            [sig] = opened.report.signatures
            assert sig.status is mss.SignatureStatus.UNTRUSTED
            assert sig.detail
        ctx.add_trust_anchor((pki / "ca.pem").read_bytes())
        tampered = signed.replace(b"voici le compte rendu", b"voici le compte RENDU", 1)
        assert tampered != signed
        with ctx.open(tampered) as opened:
            assert opened.report.signatures[0].status is mss.SignatureStatus.INVALID
            assert opened.report.reply_level is mss.SecurityLevel.SIGNED


def test_encrypt_only_and_message_errors(ctx, alice, bob, pki):
    carol = mss.Identity.open_file(pki / "carol.pem")
    try:
        sent = ctx.encrypt(DRAFT, [bob.certificate], sender_certificate=(pki / "alice.crt").read_bytes())
        with ctx.open(sent, [bob]) as opened:
            assert opened.report.warnings == ["unauthenticated-encryption"]
            assert opened.report.reply_level is mss.SecurityLevel.ENCRYPTED
        with pytest.raises(mss.NotARecipientError) as e:
            ctx.open(sent, [carol])
        assert isinstance(e.value, mss.MessageError) and e.value.status == 3002
        with pytest.raises(mss.InvalidArgumentError):
            ctx.encrypt(DRAFT, [bob.certificate], sender=alice, sender_certificate=bob.certificate)
        with pytest.raises(mss.MessageError):
            ctx.open(b"\x30\x82\x01\x00 not DER", [bob])
    finally:
        carol.close()


def test_policy_and_argument_errors(ctx, alice, bob):
    with pytest.raises(mss.PolicyViolationError) as e:
        ctx.sign_encrypt(alice, DRAFT, [bob.certificate], cipher=mss.Cipher.DES_EDE3_CBC)
    assert isinstance(e.value, mss.CryptoError)
    ctx.set_policy(mss.Policy.LEGACY)
    with ctx.open(ctx.sign_encrypt(alice, DRAFT, [bob.certificate], cipher=mss.Cipher.DES_EDE3_CBC), [bob]) as o:
        assert o.report.content_cipher == "des-ede3-cbc"
    with pytest.raises(mss.InvalidCertificateError):
        ctx.sign_encrypt(alice, DRAFT, [b"not a certificate"])
    with pytest.raises(mss.InvalidCertificateError):
        ctx.add_trust_anchor(b"junk")
    with pytest.raises(ValueError):
        ctx.sign(alice, DRAFT, digest="md5")


def test_secure_reply(ctx, alice, bob):
    assert ctx.secure_reply(mss.SecurityLevel.NONE, alice, DRAFT) == DRAFT
    reply = ctx.secure_reply(mss.SecurityLevel.ENCRYPTED, alice, DRAFT, [bob.certificate])
    with ctx.open(reply, [bob]) as o:
        assert o.report.encrypted and o.report.signed


def test_progress_callback(ctx, alice):
    seen = []
    ctx.set_progress(lambda done, total: seen.append((done, total)))
    ctx.sign(alice, DRAFT)
    assert seen == [(0, len(DRAFT)), (len(DRAFT), len(DRAFT))]

    def boom(done, total):
        raise RuntimeError("stop")

    ctx.set_progress(boom)
    with pytest.raises(RuntimeError, match="stop"):
        ctx.sign(alice, DRAFT)
    ctx.set_progress(None)
    ctx.sign(alice, DRAFT)


def test_handles_are_context_managers(pki):
    with mss.Context() as c:
        pass
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(ValueError):
        c.add_trust_anchor((pki / "ca.pem").read_bytes())
    i = mss.Identity.open_file(pki / "alice.pem")
    i.close()
    with pytest.raises(ValueError):
        i.certificate


def test_error_classes_by_range():
    assert isinstance(mss.errors.error_for(1999, "x"), mss.UsageError)
    assert isinstance(mss.errors.error_for(2999, "x"), mss.CryptoError)
    assert isinstance(mss.errors.error_for(3999, "x"), mss.MessageError)
    assert isinstance(mss.errors.error_for(4999, "x"), mss.IdentityError)
    assert isinstance(mss.errors.error_for(5001, "x"), mss.DirectoryError)
    assert type(mss.errors.error_for(9999, "x")) is mss.MssError
    assert json.dumps({"status": mss.errors.error_for(1004, "boom").status}) == '{"status": 1004}'


def _large_draft(size: int) -> bytes:
    """A draft with a base64 body of about `size` bytes (7-bit: streams as it stands)."""
    import base64
    import os as _os

    body = base64.encodebytes(_os.urandom(size * 3 // 4)).replace(b"\n", b"\r\n")
    return (
        b"From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: scan\r\n"
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    )


def test_streaming_between_files(ctx, alice, bob, pki, tmp_path):
    import io

    draft = _large_draft(3 * 1024 * 1024)
    (tmp_path / "draft.eml").write_bytes(draft)
    seen = []
    ctx.set_progress(lambda done, total: seen.append((done, total)))
    with open(tmp_path / "draft.eml", "rb") as src, open(tmp_path / "sent.eml", "wb") as dst:
        ctx.sign_encrypt_stream(alice, src, dst, [bob.certificate], cipher=mss.Cipher.AES256_GCM, total=len(draft))
    ctx.set_progress(None)
    assert seen[-1] == (len(draft), len(draft))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    sent = (tmp_path / "sent.eml").read_bytes()
    # Streamed out, opened in memory and streamed (from a file-like without readinto).
    with ctx.open(sent, [bob]) as opened:
        assert opened.report.signed and opened.report.encrypted
        assert opened.report.all_signatures_valid
        clear = opened.message

    class ReadOnly:
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def read(self, n):
            return self.data.read(min(n, 1000))

    out = io.BytesIO()
    with ctx.open_stream(ReadOnly(sent), out, [bob]) as report:
        assert report.all_signatures_valid and report.encrypted
        assert report.signatures[0].email == "alice@example.org"
        assert report.content_cipher == "aes-256-gcm"
    assert out.getvalue() == clear
    # Sign alone (detached and opaque) and encrypt alone, streamed, open in memory.
    for opaque in (False, True):
        out = io.BytesIO()
        ctx.sign_stream(alice, io.BytesIO(draft), out, opaque=opaque)
        with ctx.open(out.getvalue()) as o:
            assert o.report.signed and o.report.all_signatures_valid
    out = io.BytesIO()
    ctx.encrypt_stream(io.BytesIO(draft), out, [bob.certificate], sender_certificate=(pki / "alice.crt").read_bytes())
    with ctx.open(out.getvalue(), [bob]) as o:
        assert o.report.encrypted and not o.report.signed


def test_streamed_secure_reply(ctx, alice, bob):
    import io

    draft = _large_draft(200 * 1024)
    out = io.BytesIO()
    ctx.secure_reply_stream(mss.SecurityLevel.NONE, alice, io.BytesIO(draft), out)
    assert out.getvalue() == draft
    for level, signed_only in ((mss.SecurityLevel.SIGNED, True), (mss.SecurityLevel.ENCRYPTED, False)):
        out = io.BytesIO()
        ctx.secure_reply_stream(level, alice, io.BytesIO(draft), out, [bob.certificate])
        with ctx.open(out.getvalue(), [bob]) as o:
            assert o.report.signed and o.report.all_signatures_valid
            assert o.report.encrypted is not signed_only
            assert o.report.reply_level is (
                mss.SecurityLevel.SIGNED if signed_only else mss.SecurityLevel.SIGNED_ENCRYPTED
            )


def test_streaming_errors(ctx, alice, bob, pki):
    import io

    class Broken(Exception):
        pass

    class FailingSink:
        def __init__(self, after):
            self.left = after

        def write(self, data):
            if self.left <= 0:
                raise Broken("disk full")
            self.left -= len(data)
            return len(data)

    draft = _large_draft(512 * 1024)
    # The sink's own exception comes back, not a status.
    with pytest.raises(Broken, match="disk full"):
        ctx.sign_encrypt_stream(alice, io.BytesIO(draft), FailingSink(100_000), [bob.certificate])

    class FailingSource:
        def read(self, n):
            raise OSError("device gone")

    with pytest.raises(OSError, match="device gone"):
        ctx.sign_stream(alice, FailingSource(), io.BytesIO())
    # A tampered message: an MssError (or an invalid signature), never a valid report.
    sent = io.BytesIO()
    ctx.sign_encrypt_stream(alice, io.BytesIO(draft), sent, [bob.certificate])
    bad = bytearray(sent.getvalue())
    bad[len(bad) // 2] ^= 0x01
    try:
        with ctx.open_stream(io.BytesIO(bytes(bad)), io.BytesIO(), [bob]) as report:
            assert not report.all_signatures_valid
    except mss.MssError:
        pass
    # Not a recipient: the same error as in memory.
    carol = mss.Identity.open_file(pki / "carol.pem")
    try:
        with pytest.raises(mss.NotARecipientError):
            ctx.open_stream(io.BytesIO(sent.getvalue()), io.BytesIO(), [carol])
    finally:
        carol.close()

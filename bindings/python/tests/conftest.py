"""Fixtures: a test PKI made with openssl (CA, Alice, Bob, Carol) in a temporary folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PASSWORD = "python-test-password"

EXTENSIONS = """[person]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:copy
"""


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: install it (Debian: apt-get install openssl)")
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    (d / "ext.cnf").write_text(EXTENSIONS)
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"),
        "-out", str(d / "ca.pem"), "-days", "30", "-subj", "/CN=mss python test CA",
        "-addext", "basicConstraints=critical,CA:true",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )
    for who in ("alice", "bob", "carol"):
        _openssl(
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / f"{who}.key"),
            "-out", str(d / f"{who}.csr"), "-subj", f"/CN={who.title()}/emailAddress={who}@example.org",
        )
        _openssl(
            "x509", "-req", "-in", str(d / f"{who}.csr"), "-CA", str(d / "ca.pem"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "30", "-sha256",
            "-out", str(d / f"{who}.crt"), "-extfile", str(d / "ext.cnf"), "-extensions", "person",
        )
        # Unencrypted PEM identity: key + certificate + CA.
        (d / f"{who}.pem").write_bytes(
            (d / f"{who}.key").read_bytes() + (d / f"{who}.crt").read_bytes() + (d / "ca.pem").read_bytes()
        )
    _openssl(
        "pkcs12", "-export", "-inkey", str(d / "bob.key"), "-in", str(d / "bob.crt"),
        "-certfile", str(d / "ca.pem"), "-name", "bob", "-passout", f"pass:{PASSWORD}",
        "-out", str(d / "bob.p12"),
    )
    _openssl(
        "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", str(d / "alice.key"),
        "-passout", f"pass:{PASSWORD}", "-out", str(d / "alice-encrypted.pem"),
    )
    with open(d / "alice-encrypted.pem", "ab") as f:
        f.write((d / "alice.crt").read_bytes())
    return d

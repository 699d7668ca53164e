"""A throwaway test PKI made with cryptography: a root CA, an intermediate and leaves
for each case cert_check must tell apart.

    pki = TestPKI(tmp_path)            # root + intermediate
    pki.valid.fullchain                # Path to leaf + intermediate PEM
    pki.leaf("x.example.test", days=3) # any other case

Keys are EC P-256 (fast to make, accepted by OpenSSL, Python's ssl and PostgreSQL) and
written 0600. Every path is under the directory given.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc
ORG = "Caretaker Test"
ROOT_CN = "Caretaker Test Root CA"
INTERMEDIATE_CN = "Caretaker Test Intermediate CA"


@dataclass
class Issued:
    """One certificate and where it was written."""

    name: str
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path  # this certificate alone
    key_path: Path  # its private key, 0600
    fullchain: Path  # this certificate followed by its issuers up to, not including, the root

    @property
    def not_after(self) -> datetime.datetime:
        return self.cert.not_valid_after_utc

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
    ])


def _write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(fd, mode)
        handle.write(data)
    return path


class TestPKI:
    """Root and intermediate CA in ``directory``, plus the standard leaves:

    valid (365 days), expiring (10 days), expired (5 days ago), not_yet_valid (from
    3 days ahead), wrong_host (SAN other.example.test, for SNI wrong.example.test),
    loopback (SAN localhost and 127.0.0.1), and short_intermediate: a leaf valid a
    year under an intermediate that expires in 5 days.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, directory, now: datetime.datetime | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.now = now or datetime.datetime.now(UTC)
        self.root = self._issue(ROOT_CN, None, -1, 3650, ca=True, sans=())
        self.intermediate = self._issue(INTERMEDIATE_CN, self.root, -1, 1825, ca=True, sans=())
        self.valid = self.leaf("valid.example.test")
        self.expiring = self.leaf("expiring.example.test", days=10)
        self.expired = self.leaf("expired.example.test", start=-100, days=-5)
        self.not_yet_valid = self.leaf("future.example.test", start=3, days=400)
        self.wrong_host = self.leaf("other.example.test", file_name="wrong.example.test")
        self.loopback = self.leaf("localhost", sans=("localhost", "127.0.0.1"))
        self.short_intermediate_ca = self._issue("Caretaker Test Short Intermediate CA", self.root, -300, 5,
                                                 ca=True, sans=())
        self.short_intermediate = self.leaf("short-chain.example.test", issuer=self.short_intermediate_ca)

    # --- making certificates -------------------------------------------------------

    def leaf(self, common_name: str, days: float = 365, start: float = -1, sans=None,
             issuer: Issued | None = None, file_name: str | None = None) -> Issued:
        """A server certificate valid from ``start`` to ``days`` days from now."""
        sans = (common_name,) if sans is None else sans
        return self._issue(common_name, issuer or self.intermediate, start, days, ca=False, sans=sans,
                           file_name=file_name)

    def _issue(self, common_name, issuer, start, days, ca, sans, file_name=None) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(common_name)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.cert.subject if issuer else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now + datetime.timedelta(days=start))
            .not_valid_after(self.now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if sans:
            entries = []
            for san in sans:
                try:
                    entries.append(x509.IPAddress(ipaddress.ip_address(san)))
                except ValueError:
                    entries.append(x509.DNSName(san))
            builder = builder.add_extension(x509.SubjectAlternativeName(entries), critical=False)
        cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
        stem = (file_name or common_name).replace(" ", "-").replace("*", "wildcard")
        cert_path = _write(self.directory / f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM))
        key_path = _write(self.directory / f"{stem}.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
        chain = cert.public_bytes(serialization.Encoding.PEM)
        parent = issuer
        while parent is not None and parent.cert.subject != parent.cert.issuer:
            chain += parent.cert.public_bytes(serialization.Encoding.PEM)
            parent = self._issuer_of(parent)
        fullchain = _write(self.directory / f"{stem}-fullchain.pem", chain)
        return Issued(common_name, cert, key, cert_path, key_path, fullchain)

    def _issuer_of(self, issued: Issued) -> Issued | None:
        for candidate in (getattr(self, "intermediate", None), getattr(self, "root", None),
                          getattr(self, "short_intermediate_ca", None)):
            if candidate is not None and candidate.cert.subject == issued.cert.issuer:
                return candidate
        return None

    # --- files of other kinds ----------------------------------------------------

    def write(self, file_name: str, data: bytes, mode: int = 0o644) -> Path:
        """Any file in the PKI directory (garbage, a key alone, a bundle ...)."""
        return _write(self.directory / file_name, data, mode)

    def bundle(self, file_name: str, *issued: Issued) -> Path:
        """Several certificates in one PEM file, in the order given."""
        return self.write(file_name, b"".join(item.pem for item in issued))

"""A throw-away certificate authority and server certificate for the simulator's TLS listener.

Made fresh at every start with ``cryptography``: nothing is read from or left on disk except the CA
certificate file a client needs to trust the listener (``TlsIdentity.write_ca``). The CA signs one
leaf certificate whose subjectAltName lists exactly the ``names`` asked for, so a test can make a
trusted certificate that is for another host name.
"""

from __future__ import annotations

import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_NAMES = ("localhost", "127.0.0.1")
VALIDITY = timedelta(days=2)


@dataclass(frozen=True)
class TlsIdentity:
    """PEM texts: the CA's certificate, and the server's certificate chain and private key."""

    ca_pem: bytes
    chain_pem: bytes
    key_pem: bytes = field(repr=False)

    def server_context(self) -> ssl.SSLContext:
        """A server-side context (TLS 1.2 or newer) that presents the chain."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # NOTE: load_cert_chain reads files only; they exist just long enough to be loaded.
        with tempfile.TemporaryDirectory(prefix="vpcep-sim-tls-") as folder:
            chain, key = Path(folder, "chain.pem"), Path(folder, "key.pem")
            key.touch(mode=0o600)
            key.write_bytes(self.key_pem)
            chain.write_bytes(self.chain_pem)
            context.load_cert_chain(chain, key)
        return context

    def write_ca(self, path: Path) -> Path:
        """Write the CA certificate (public, no key) where a client can be told to trust it."""
        path.write_bytes(self.ca_pem)
        return path


def _subject_names(names: Sequence[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_identity(names: Sequence[str] = DEFAULT_NAMES) -> TlsIdentity:
    """A new CA and a server certificate for ``names`` (host names or IP addresses), valid today."""
    if not names:
        raise ValueError("a certificate needs at least one name")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("vpcep simulator test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_subject_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_pem = ca_cert.public_bytes(pem)
    return TlsIdentity(
        ca_pem=ca_pem,
        chain_pem=cert.public_bytes(pem) + ca_pem,
        key_pem=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )

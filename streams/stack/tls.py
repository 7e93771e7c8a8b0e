"""The local stack's certificate authority and the broker's certificate (docs/security.md).

`crossroads stack up` makes, once per state directory, a CA (``<state_dir>/tls/ca.crt``, its key beside it)
and one broker certificate signed by it (``broker.pem``: key and chain, PEM, as Kafka's PEM keystore reads it).
Clients trust ``ca.crt`` only, so they verify the broker's name (every host of the bootstrap list is in the
certificate); the brokers also present ``broker.pem`` to each other's controller listener, where its
``CN=broker`` is the principal ``User:broker`` (mutual TLS).

A development CA: its key sits beside the certificate, so anyone who can read the state directory can mint
certificates. Production uses its own PKI (CROSSROADS_KAFKA_CA_FILE).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BROKER_NAME = "broker"
VALID_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    """Where the stack's TLS material lives."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def broker_pem(self) -> Path:
        """The broker's private key (PKCS#8) followed by its certificate and the CA's."""
        return self.directory / "broker.pem"

    @property
    def broker_hosts(self) -> Path:
        return self.directory / "broker.hosts"

    def exists(self) -> bool:
        return self.ca_cert.exists() and self.broker_pem.exists()


def ensure_certificates(directory: Path, hosts: Iterable[str]) -> TlsFiles:
    """The CA and a broker certificate naming every host; made when missing, or when the hosts changed
    (the CA is kept, so clients that trust it keep working)."""
    files = TlsFiles(directory)
    wanted = sorted(set(hosts) | {"127.0.0.1", "localhost"})
    if files.exists() and files.broker_hosts.exists() and files.broker_hosts.read_text().split() == wanted:
        return files
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    if files.ca_cert.exists() and files.ca_key.exists():
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{files.ca_key} is not the EC key this stack makes")
    else:
        ca_key, ca_cert = _make_ca()
        _write(files.ca_key, ca_key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, _CLEAR), private=True)
        _write(files.ca_cert, ca_cert.public_bytes(_PEM))
    key, cert = _make_broker(ca_key, ca_cert, wanted)
    pem = (
        key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, _CLEAR)
        + cert.public_bytes(_PEM)
        + ca_cert.public_bytes(_PEM)
    )
    _write(files.broker_pem, pem, private=True)
    files.broker_hosts.write_text("\n".join(wanted) + "\n")
    return files


_PEM = serialization.Encoding.PEM
_CLEAR = serialization.NoEncryption()


def share_with_group(files: TlsFiles) -> None:
    """Let the directory's group read what a broker needs (its key and chain, the CA certificate), for a broker
    that runs as another user of that group (docker-compose.yml's apache/kafka container); the CA key stays the
    owner's only."""
    os.chmod(files.directory, 0o750)
    os.chmod(files.broker_pem, 0o640)
    for public in (files.ca_cert, files.broker_hosts):
        os.chmod(public, 0o644)
    os.chmod(files.ca_key, 0o600)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o600 if private else 0o644)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # tolerate a little clock skew


def _make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Crossroads local development CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_broker(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, hosts: list[str]
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, BROKER_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now())
        .not_valid_after(_now() + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # the same certificate serves the broker's listeners and its connections to the controllers
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert

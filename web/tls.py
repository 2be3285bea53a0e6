"""Certificates for a closed network without a public CA (`hoinghi tls selfsigned`): a local certificate
authority, made once and kept, and a server certificate it signs for nginx, naming the host and the
addresses the halls' browsers use. The CA's certificate (never its key) is what halls' PCs and phones
install (README, Deployment).

Files written to the output directory: `ca.crt`, `ca.key` (the CA; keep the key off the server once the
certificate is made), `server.crt` (the server certificate followed by the CA's, the chain nginx sends),
`server.key`. A CA already in the directory is reused, so a new server certificate (a new address, a
renewal) needs no reinstall on the halls' devices.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # the longest validity browsers accept for a server certificate
CA_NAME = "hoinghi local CA"


class TlsError(ValueError):
    """A name or address that cannot go in a certificate, or files that cannot be written."""


@dataclass(frozen=True)
class Issued:
    directory: Path
    ca_created: bool
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    not_after: dt.datetime

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, private: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _ca(directory: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bool]:
    cert_file, key_file = directory / "ca.crt", directory / "ca.key"
    if cert_file.exists() and key_file.exists():
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        key = serialization.load_pem_private_key(key_file.read_bytes(), None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TlsError(f"{key_file} is not the EC key this command makes")
        return cert, key, False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hoinghi")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write(key_file, _key_pem(key), private=True)
    _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key, True


def selfsigned(directory: Path, hosts: list[str], addresses: list[str], now: dt.datetime | None = None) -> Issued:
    """A server certificate for `hosts` (DNS names) and `addresses` (IPs), signed by the directory's CA
    (made first if there is none)."""
    if not hosts and not addresses:
        raise TlsError("give at least one --host or --ip")
    ips = []
    for text in addresses:
        try:
            ips.append(ipaddress.ip_address(text))
        except ValueError:
            raise TlsError(f"--ip {text!r} is not an IP address") from None
    for host in hosts:
        if not host or any(c.isspace() or c in "/:@" for c in host):
            raise TlsError(f"--host {host!r} is not a host name")
    now = now or dt.datetime.now(dt.UTC)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        ca_cert, ca_key, created = _ca(directory, now)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else addresses[0])])
        not_after = now + dt.timedelta(days=SERVER_DAYS)
        alt: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts] + [x509.IPAddress(i) for i in ips]
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(not_after)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(directory / "server.key", _key_pem(key), private=True)
        _write(directory / "server.crt", cert.public_bytes(serialization.Encoding.PEM)
               + ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    except OSError as e:
        raise TlsError(f"cannot write certificates to {directory}: {e.strerror}") from None
    return Issued(directory, created, tuple(hosts), tuple(addresses), not_after)

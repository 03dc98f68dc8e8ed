"""Certificates and keys for the local control plane, made fresh for every cluster start.

The API server runs as it does in production: TLS serving, client-certificate
authentication against our own CA, and a service-account key pair with an issuer so that
TokenRequest works (tests run the operator as a ServiceAccount with a bound token, and RBAC
is enforced for it).  The admin identity is in ``system:masters``; the control-plane
components and kwok use it too, which keeps the setup small without weakening what tests
see.  Keys are ECDSA P-256, which every component accepts and which are quick to generate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=365)
ADMIN_USER = "cverag-admin"
# Bound to the ``system:kubelet-api-admin`` ClusterRole by devstack.node, not a cluster admin.
KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client"


@dataclass(frozen=True)
class Pki:
    """Paths of the files the components are pointed at."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The API server's identity towards kubelets (logs, exec, port-forward)."""
        return self.directory / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.directory / "apiserver-kubelet-client.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_pub(self) -> Path:
        return self.directory / "sa.pub"


def create(directory: Path, service_ip: str) -> Pki:
    """Write a CA, the API server's serving cert, an admin client cert and the SA key pair."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = Pki(directory)
    ca_key = _new_key(pki.ca_key)
    ca_name = _name("cverag-local-ca")
    ca = _sign(
        x509.CertificateBuilder().subject_name(ca_name).public_key(ca_key.public_key()),
        ca_name,
        ca_key,
    ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    ca_cert = ca.add_extension(
        x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
    ).sign(ca_key, hashes.SHA256())
    _write_cert(pki.ca_cert, ca_cert)

    sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", service_ip)]
    _leaf(
        pki.serving_cert,
        pki.serving_key,
        _name("kube-apiserver"),
        ca_cert,
        ca_key,
        ExtendedKeyUsageOID.SERVER_AUTH,
        sans,
    )
    _leaf(
        pki.admin_cert,
        pki.admin_key,
        _name(ADMIN_USER, "system:masters"),
        ca_cert,
        ca_key,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [],
    )

    _leaf(
        pki.kubelet_client_cert,
        pki.kubelet_client_key,
        _name(KUBELET_CLIENT_USER),
        ca_cert,
        ca_key,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [],
    )

    sa_key = _new_key(pki.service_account_key)
    pki.service_account_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pki


def node_client(pki: Pki, node: str, ip: str) -> tuple[Path, Path]:
    """A kubelet's client certificate (``system:node:<node>`` in ``system:nodes``, which the Node
    authorizer and NodeRestriction expect) and its serving certificate for ``ip``, from the CA."""
    ca_cert, ca_key = _load_ca(pki)
    subject = _name(f"system:node:{node}", "system:nodes")
    client_cert = client(pki, f"node-{node}", f"system:node:{node}", "system:nodes")
    sans: list[x509.GeneralName] = [x509.DNSName(node), x509.IPAddress(ipaddress.ip_address(ip))]
    serving = pki.directory / f"node-{node}-serving.crt", pki.directory / f"node-{node}-serving.key"
    _leaf(*serving, subject, ca_cert, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, sans)
    return client_cert


def client(pki: Pki, stem: str, user: str, group: str | None = None) -> tuple[Path, Path]:
    """A client certificate and key (``<stem>.crt/.key``) for ``user`` in ``group``, from the CA."""
    ca_cert, ca_key = _load_ca(pki)
    cert, key = pki.directory / f"{stem}.crt", pki.directory / f"{stem}.key"
    _leaf(cert, key, _name(user, group), ca_cert, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    return cert, key


def _load_ca(pki: Pki) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    return x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()), ca_key


def write_kubeconfig(
    path: Path,
    pki: Pki,
    server: str,
    cluster_name: str = "cverag-local",
    user: tuple[str, Path, Path] | None = None,
) -> None:
    """A kubeconfig that refers to the PKI files by absolute path (admin unless ``user`` is given)."""
    name, cert, key = user or (ADMIN_USER, pki.admin_cert, pki.admin_key)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster_name, "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)}}
        ],
        "users": [{"name": name, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": name}}],
        "current-context": cluster_name,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)


def _leaf(
    cert_path: Path,
    key_path: Path,
    subject: x509.Name,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
) -> None:
    key = _new_key(key_path)
    builder = _sign(
        x509.CertificateBuilder().subject_name(subject).public_key(key.public_key()), ca_cert.subject, ca_key
    )
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write_cert(cert_path, builder.sign(ca_key, hashes.SHA256()))


def _sign(
    builder: x509.CertificateBuilder, issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        builder.issuer_name(issuer)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _new_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return key


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

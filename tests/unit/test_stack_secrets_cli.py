"""`crossroads stack certificates | credentials`: the TLS material and super users' credentials for a broker
this project does not start (docker-compose.yml's one-shot `kafka-secrets`)."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from streams.cli.stack import app
from streams.domain.credentials import derived_password

runner = CliRunner()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(directory: Path) -> tuple[x509.Certificate, x509.Certificate, set[str]]:
    broker, *chain = x509.load_pem_x509_certificates((directory / "broker.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    san = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(san.get_values_for_type(x509.DNSName)) | {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    assert chain == [ca]  # the chain Kafka's PEM keystore presents
    return broker, ca, names


def test_certificates_writes_a_ca_and_a_broker_certificate_naming_the_given_hosts(tmp_path: Path) -> None:
    directory = tmp_path / "kafka"

    result = runner.invoke(app, ["certificates", "--dir", str(directory), "--host", "kafka", "--host", "localhost"])

    assert result.exit_code == 0, result.output
    broker, ca, names = _names(directory)
    assert names == {"kafka", "localhost", "127.0.0.1"}
    broker.verify_directly_issued_by(ca)
    assert broker.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "broker"  # User:broker (mTLS)
    assert (directory / "broker.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _mode(directory / "broker.pem") == 0o600 and _mode(directory / "ca.key") == 0o600
    assert _mode(directory) == 0o700


def test_certificates_keeps_the_ca_and_renames_the_broker_when_the_hosts_change(tmp_path: Path) -> None:
    runner.invoke(app, ["certificates", "--dir", str(tmp_path), "--host", "kafka"])
    first_ca = (tmp_path / "ca.crt").read_bytes()
    first_pem = (tmp_path / "broker.pem").read_bytes()

    again = runner.invoke(app, ["certificates", "--dir", str(tmp_path), "--host", "kafka"])
    assert again.exit_code == 0 and (tmp_path / "broker.pem").read_bytes() == first_pem  # idempotent

    renamed = runner.invoke(app, ["certificates", "--dir", str(tmp_path), "--host", "kafka", "--host", "10.0.0.7"])
    assert renamed.exit_code == 0, renamed.output
    broker, ca, names = _names(tmp_path)
    assert (tmp_path / "ca.crt").read_bytes() == first_ca  # clients that trust it keep working
    assert names == {"kafka", "10.0.0.7", "localhost", "127.0.0.1"}
    assert ipaddress.ip_address("10.0.0.7") in broker.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.IPAddress)
    broker.verify_directly_issued_by(ca)


def test_certificates_group_readable_shares_the_broker_key_but_never_the_ca_key(tmp_path: Path) -> None:
    result = runner.invoke(app, ["certificates", "--dir", str(tmp_path / "k"), "--host", "kafka", "--group-readable"])

    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "k") == 0o750
    assert _mode(tmp_path / "k" / "broker.pem") == 0o640
    assert _mode(tmp_path / "k" / "ca.crt") == 0o644
    assert _mode(tmp_path / "k" / "ca.key") == 0o600


def test_certificates_needs_a_host(tmp_path: Path) -> None:
    result = runner.invoke(app, ["certificates", "--dir", str(tmp_path)])

    assert result.exit_code != 0
    assert not (tmp_path / "ca.crt").exists()


@pytest.mark.parametrize("group_readable", [False, True])
def test_credentials_are_the_derived_passwords_of_the_super_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, group_readable: bool
) -> None:
    monkeypatch.setenv("CROSSROADS_ACCESS_SECRET", "a-secret-of-this-deployment")
    args = ["credentials", "--dir", str(tmp_path), *(["--group-readable"] if group_readable else [])]

    result = runner.invoke(app, args)

    assert result.exit_code == 0, result.output
    for principal in ("broker", "operator"):
        password = (tmp_path / f"{principal}.password").read_text().strip()
        assert password == derived_password("a-secret-of-this-deployment", principal)
        assert _mode(tmp_path / f"{principal}.password") == (0o640 if group_readable else 0o600)
    properties = dict(
        line.split("=", 1) for line in (tmp_path / "operator.properties").read_text().splitlines() if "=" in line
    )
    operator = derived_password("a-secret-of-this-deployment", "operator")
    assert properties["security.protocol"] == "SASL_SSL"
    assert properties["sasl.mechanism"] == "SCRAM-SHA-512"
    assert f'username="operator" password="{operator}";' in properties["sasl.jaas.config"]
    assert properties["ssl.truststore.type"] == "PEM"
    assert properties["ssl.truststore.location"] == str(tmp_path / "ca.crt")
    assert _mode(tmp_path / "operator.properties") == (0o640 if group_readable else 0o600)

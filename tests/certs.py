"""Certificates made in the test with ``trustme``: a CA, a broker's and a device's.

``Pki(tmp).broker_conf()`` is the mosquitto listener's TLS (mutual: a client certificate
is required); ``Pki.device_tls()`` the ``[mqtt]`` fields of a device. Variants make the
wrong things a site meets: another CA, an expired broker certificate, a certificate for
another host name, no client certificate.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme


class Pki:
    def __init__(self, directory: Path, *, broker_names: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = trustme.CA(organization_name="Siaga test CA")
        self.ca_file = self._write("ca.crt", self.ca.cert_pem.bytes())
        self.broker = self.ca.issue_cert(*broker_names, common_name="broker")
        self.device = self.ca.issue_cert("pi-a.lapas.example", common_name="lapas/pi-a")

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def broker_conf(self, broker: trustme.LeafCert | None = None) -> str:
        """mosquitto's TLS for the test listener: the broker's chain, clients must show one."""
        leaf = broker or self.broker
        cert = self._write("broker.crt", b"".join(b.bytes() for b in leaf.cert_chain_pems))
        key = self._write("broker.key", leaf.private_key_pem.bytes())
        return f"cafile {self.ca_file}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\n"

    def expired_broker(self) -> trustme.LeafCert:
        past = datetime.now(UTC) - timedelta(days=30)
        return self.ca.issue_cert(
            "127.0.0.1", not_before=past - timedelta(days=365), not_after=past
        )

    def broker_for(self, *names: str) -> trustme.LeafCert:
        return self.ca.issue_cert(*names)

    def device_tls(
        self, *, ca_file: Path | None = None, client_cert: bool = True
    ) -> dict[str, str]:
        fields = {"ca_file": str(ca_file or self.ca_file)}
        if client_cert:
            fields["cert_file"] = str(
                self._write("device.crt", b"".join(b.bytes() for b in self.device.cert_chain_pems))
            )
            fields["key_file"] = str(self._write("device.key", self.device.private_key_pem.bytes()))
        return fields

    def client_context(self) -> ssl.SSLContext:
        """For the test's own listener (the control room)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        room = self.ca.issue_cert("controlroom.example", common_name="controlroom")
        room.configure_cert(ctx)
        return ctx


def other_ca_file(directory: Path) -> Path:
    """A CA the broker's certificate does not come from."""
    path = directory / "other-ca.crt"
    path.write_bytes(trustme.CA(organization_name="Someone else").cert_pem.bytes())
    return path

"""An Azure Key Vault simulator: the secrets REST surface ``azure-keyvault-secrets`` uses, over
HTTPS on 127.0.0.1 with a self-signed certificate made at start-up, behind Key Vault's bearer
challenge.

    sim = KeyVaultSimulator({"secrets": [...]})   # a World map (its azure entries), or from_file(path)
    sim.start()                                   # writes sim.ca_path (the certificate to trust)
    client = SecretClient(sim.url, credential, verify_challenge_resource=False,
                          connection_verify=str(sim.ca_path))
    sim.stop()

A request without ``Authorization: Bearer …`` gets 401 with ``WWW-Authenticate: Bearer
authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"``,
as the real service answers the SDK's first (body-less) request; any bearer token is accepted
after that. Routes: ``GET /secrets``; ``PUT /secrets/N`` (a new version); ``GET /secrets/N[/V]``
(no version: the newest; a disabled one is refused with 403); ``PATCH /secrets/N/V``
(``attributes.enabled``, ``tags``, ``contentType``); ``GET /secrets/N/versions`` (``maxresults``
and ``nextLink`` paging); ``DELETE /secrets/N``. Standard library only, except the certificate:
made with ``cryptography`` when it is installed, else with the ``openssl`` command.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pyirt.sim.cloudrun import load_world
from pyirt.sim.cloudrun_state import WorldError
from pyirt.sim.httpserver import JsonServer, Reply, Request, Served
from pyirt.sim.secrets_world import Fault, Faults, parse_secrets

OPS = ("GetSecrets", "SetSecret", "GetSecret", "UpdateSecret", "GetSecretVersions", "DeleteSecret")
TENANT = "00000000-0000-4000-8000-00000000a2e1"
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="https://vault.azure.net"'
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class VaultError(Exception):
    def __init__(self, http: int, code: str, message: str, inner: str | None = None,
                 retry_after: float | None = None) -> None:
        self.http, self.code, self.message, self.inner, self.retry_after = http, code, message, inner, retry_after
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            error["innererror"] = {"code": self.inner}
        return {"error": error}


@dataclass
class KvVersion:
    id: str
    value: str
    created: float
    updated: float
    enabled: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass
class KvSecret:
    name: str
    versions: list[KvVersion] = field(default_factory=list)  # oldest first: the last one is current


class KeyVaultWorld:
    """Thread-safe simulated vault. Methods return JSON-ready maps or raise VaultError."""

    def __init__(self, secrets: list[KvSecret] | None = None, faults: list[Fault] | None = None) -> None:
        self._lock = threading.RLock()
        self._secrets: dict[str, KvSecret] = {s.name.lower(): s for s in secrets or []}
        self.faults = Faults(OPS, faults or [])
        self.base_url = ""

    @classmethod
    def from_dict(cls, world: Mapping[str, Any]) -> KeyVaultWorld:
        seeds, faults = parse_secrets(world, "azure", OPS)
        found = []
        for seed in seeds:
            if not seed.name or set(seed.name) - _NAME_CHARS:
                raise WorldError(f"azure secret {seed.name!r}: letters, digits and '-' only")
            versions = [KvVersion(uuid.uuid4().hex, v.value, v.created, v.created, v.state == "enabled", dict(v.tags))
                        for v in seed.versions]
            found.append(KvSecret(seed.name, versions))
        return cls(found, faults)

    # -- for tests and drills ---------------------------------------------------------------------
    def names(self) -> list[str]:
        with self._lock:
            return [s.name for s in self._secrets.values()]

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every version as {id, enabled, created, tags} (no value), oldest first."""
        with self._lock:
            return [{"id": v.id, "enabled": v.enabled, "created": v.created, "tags": dict(v.tags)}
                    for v in self._secret(name).versions]

    def value(self, name: str, version: str | None = None) -> str:
        with self._lock:
            return self._version(self._secret(name), version).value

    # -- the API -----------------------------------------------------------------------------------
    def call(self, op: str, name: str, version: str, query: dict[str, list[str]], body: Mapping[str, Any]) -> Any:
        with self._lock:
            if op == "GetSecrets":
                items = [self._item(s, s.versions[-1]) for s in self._secrets.values() if s.versions]
                return {"value": items, "nextLink": None}
            if op == "SetSecret":
                return self._set(name, body)
            secret = self._secret(name)
            if op == "DeleteSecret":
                del self._secrets[name.lower()]
                return {**self._bundle(secret, secret.versions[-1], value=False),
                        "deletedDate": int(time.time()), "scheduledPurgeDate": int(time.time()) + 90 * 86400}
            if op == "GetSecretVersions":
                return self._list(secret, query)
            found = self._version(secret, version or None)
            if op == "GetSecret":
                if not found.enabled:
                    raise VaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                                     "SecretDisabled")
                return self._bundle(secret, found, value=True)
            attributes = body.get("attributes") or {}
            if "enabled" in attributes:
                found.enabled = bool(attributes["enabled"])
            if body.get("tags") is not None:
                found.tags = {str(k): str(v) for k, v in body["tags"].items()}
            if "contentType" in body:
                found.content_type = body["contentType"]
            found.updated = time.time()
            return self._bundle(secret, found, value=False)

    def _secret(self, name: str) -> KvSecret:
        secret = self._secrets.get(name.lower())
        if secret is None or not secret.versions:
            raise VaultError(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault. "
                                                    "If you recently deleted this secret you may be able to recover it "
                                                    "using the correct recovery command.")
        return secret

    def _version(self, secret: KvSecret, version: str | None) -> KvVersion:
        if not version:
            return secret.versions[-1]
        found = next((v for v in secret.versions if v.id == version), None)
        if found is None:
            raise VaultError(404, "SecretNotFound", f"A secret with (name/id) {secret.name}/{version} was not found "
                                                    "in this key vault.")
        return found

    def _set(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if not name or len(name) > 127 or set(name) - _NAME_CHARS:
            raise VaultError(400, "BadParameter", "The request URI contains an invalid name: " + name)
        value = body.get("value")
        if not isinstance(value, str):
            raise VaultError(400, "BadParameter", "Property 'value' is required.")
        if len(value.encode("utf-8")) > 25 * 1024:
            raise VaultError(400, "BadParameter", "The secret value is larger than 25 KB.")
        secret = self._secrets.setdefault(name.lower(), KvSecret(name))
        attributes = body.get("attributes") or {}
        now = time.time()
        version = KvVersion(uuid.uuid4().hex, value, now, now, attributes.get("enabled", True) is not False,
                            {str(k): str(v) for k, v in (body.get("tags") or {}).items()}, body.get("contentType"))
        secret.versions.append(version)
        return self._bundle(secret, version, value=True)

    def _list(self, secret: KvSecret, query: dict[str, list[str]]) -> dict[str, Any]:
        size = int((query.get("maxresults") or ["25"])[0] or 25)
        start = int((query.get("$skiptoken") or ["0"])[0] or 0)
        page = secret.versions[start:start + size]
        more = start + size < len(secret.versions)
        link = f"{self.base_url}/secrets/{secret.name}/versions?$skiptoken={start + size}&maxresults={size}" \
            if more else None
        return {"value": [self._item(secret, v) for v in page], "nextLink": link}

    def _attributes(self, version: KvVersion) -> dict[str, Any]:
        return {"enabled": version.enabled, "created": int(version.created), "updated": int(version.updated),
                "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}

    def _item(self, secret: KvSecret, version: KvVersion) -> dict[str, Any]:
        item: dict[str, Any] = {"id": f"{self.base_url}/secrets/{secret.name}/{version.id}",
                                "attributes": self._attributes(version), "tags": dict(version.tags)}
        if version.content_type:
            item["contentType"] = version.content_type
        return item

    def _bundle(self, secret: KvSecret, version: KvVersion, value: bool) -> dict[str, Any]:
        bundle = self._item(secret, version)
        if value:
            bundle["value"] = version.value
        return bundle


def make_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``host`` (and localhost), valid a day: (cert.pem, key.pem)."""
    cert, key = folder / "sim-ca.pem", folder / "sim-key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return _openssl_certificate(cert, key, host)
    import datetime as dt
    import ipaddress

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "irt Key Vault simulator")])
    now = dt.datetime.now(dt.UTC)
    public = private.public_key()
    alt = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if host not in ("127.0.0.1", "localhost"):
        alt.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    key.chmod(0o600)
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _openssl_certificate(cert: Path, key: Path, host: str) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the Key Vault simulator needs the cryptography package or the openssl command")
    alt = "DNS:localhost,IP:127.0.0.1" + (f",IP:{host}" if host not in ("127.0.0.1", "localhost") else "")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=irt Key Vault simulator",
                    "-addext", f"subjectAltName={alt}", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
                   check=True, capture_output=True, timeout=30)
    key.chmod(0o600)
    return cert, key


def _route(method: str, path: str) -> tuple[str, str, str]:
    parts = [unquote(p) for p in path.split("/") if p != ""]
    if not parts or parts[0] != "secrets":
        raise VaultError(404, "NotFound", f"The requested resource {path} was not found.")
    if len(parts) == 1 and method == "GET":
        return "GetSecrets", "", ""
    name = parts[1] if len(parts) > 1 else ""
    rest = parts[2:]
    table = {("PUT", 0): "SetSecret", ("DELETE", 0): "DeleteSecret", ("GET", 0): "GetSecret",
             ("GET", 1): "GetSecret", ("PATCH", 1): "UpdateSecret"}
    if rest == ["versions"] and method == "GET":
        return "GetSecretVersions", name, ""
    op = table.get((method, len(rest)))
    if op is None:
        raise VaultError(405, "MethodNotAllowed", f"{method} {path} is not simulated")
    return op, name, rest[0] if rest else ""


class KeyVaultSimulator(Served):
    """The HTTPS server around a :class:`KeyVaultWorld`."""

    def __init__(self, world: KeyVaultWorld | Mapping[str, Any] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, log: Callable[[str], None] | None = None, cert_dir: str | Path | None = None) -> None:
        self.world = world if isinstance(world, KeyVaultWorld) else KeyVaultWorld.from_dict(world or {})
        self.host = host
        self._own_dir: tempfile.TemporaryDirectory[str] | None = None
        if cert_dir is None:
            self._own_dir = tempfile.TemporaryDirectory(prefix="irt-keyvault-")
            cert_dir = self._own_dir.name
        self.cert_dir = Path(cert_dir)
        self.ca_path = self.cert_dir / "sim-ca.pem"
        self.tokens: list[str] = []  # bearer tokens presented, for tests
        self.challenges = 0
        self.server = JsonServer(self.handle, host=host, port=port, name="irt-sim-keyvault", log=log)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> KeyVaultSimulator:
        try:
            return cls(KeyVaultWorld.from_dict(load_world(path)), **kwargs)
        except WorldError as exc:
            raise WorldError(f"{path}: {exc}") from None

    def start(self) -> int:
        if self.server.running:
            return self.server.port
        self.cert_dir.mkdir(parents=True, exist_ok=True)
        cert, key = make_certificate(self.cert_dir, self.host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        self.server.tls = context
        port = self.server.start()
        self.world.base_url = self.url
        return port

    def stop(self) -> None:
        self.server.stop()
        if self._own_dir is not None:
            self._own_dir.cleanup()

    def provider(self) -> dict[str, str]:
        """What ``providers.azure`` in irt.yaml needs to talk to this simulator."""
        return {"vault_url": self.url, "ca_bundle": str(self.ca_path), "credential": "static"}

    def inject(self, op: str = "*", **spec: Any) -> Fault:
        return self.world.faults.inject(op, **spec)

    def clear_faults(self) -> None:
        self.world.faults.clear()

    def handle(self, request: Request) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            self.challenges += 1
            error = VaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            return Reply(401, error.body(), {"WWW-Authenticate": CHALLENGE})
        self.tokens.append(auth[7:].strip())
        parts = urlsplit(request.target)
        query = parse_qs(parts.query, keep_blank_values=True)
        try:
            op, name, version = _route(request.method, parts.path)
            fault = self.world.faults.take(op, name or None)
            if fault is not None:
                stopping = self.server.stopping
                if fault.latency and stopping.wait(fault.latency):
                    return Reply(503, None)
                if fault.hang is not None:
                    stopping.wait(None if fault.hang == float("inf") else fault.hang)
                    return Reply(503, None)
                if fault.status is not None:
                    raise VaultError(fault.status, "Throttled" if fault.status == 429 else "ServiceUnavailable",
                                     fault.message or f"simulated HTTP {fault.status} (injected fault)",
                                     retry_after=fault.retry_after)
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise VaultError(400, "BadParameter", "The request body must be a JSON object.")
            return Reply(200, self.world.call(op, name, version, query, body))
        except VaultError as exc:
            headers = {"Retry-After": str(int(exc.retry_after + 0.999))} if exc.retry_after is not None else {}
            return Reply(exc.http, exc.body(), headers)

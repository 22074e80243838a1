"""Real peers for every provider, on 127.0.0.1 only, driven through the official SDKs:

- gcp, gcp-alias: the Secret Manager simulator (``pyirt.sim.secretmanager``), the official client
  with ``transport="rest"``; gcp-alias rotates a secret whose consumers read the ``current`` alias;
- aws: moto in server mode (one per session; each test gets its own secret), driven by boto3;
- azure: the Key Vault simulator over HTTPS with a certificate made at start-up and the bearer
  challenge, driven by ``SecretClient`` with a static-token credential;
- local: a store folder under the test's tmp_path.

A :class:`Peer` names its secret (``params``), configures ``providers`` (``config``) and looks
behind the API (``current``, ``states``, ``value``) so tests assert on the store itself.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pyirt.engine import session
from pyirt.engine.config import Config
from pyirt.sim.cloudrun import load_world
from tests.helpers import CANARY, FIXTURES

SECRETS = FIXTURES / "secrets"
RUNBOOKS = SECRETS / "runbooks"
TOKEN = "pixashot-auth-token"
PROVIDERS = ("gcp", "gcp-alias", "aws", "azure", "local")


@pytest.fixture
def world() -> dict[str, Any]:
    return load_world(SECRETS / "world.yaml")


@pytest.fixture
def gcp_sim(world: dict[str, Any]) -> Iterator[Any]:
    pytest.importorskip("google.cloud.secretmanager_v1", reason="the gcp extra is not installed")
    from pyirt.sim.secretmanager import SecretManagerSimulator

    with SecretManagerSimulator(world) as sim:
        yield sim


@pytest.fixture
def kv_sim(world: dict[str, Any]) -> Iterator[Any]:
    pytest.importorskip("azure.keyvault.secrets", reason="the azure extra is not installed")
    from pyirt.sim.keyvault import KeyVaultSimulator

    with KeyVaultSimulator(world) as sim:
        yield sim


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    pytest.importorskip("boto3", reason="the aws extra is not installed")
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.delenv("AWS_PROFILE", raising=False)
        server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


# -- peers ---------------------------------------------------------------------------------------------
def quiet(method: Any) -> Any:
    """A peer looks behind the API with the SDKs too: those calls log values (botocore at DEBUG),
    and they are the test's, not pyirt's, so they are kept out of the captured log records."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logging.disable(logging.CRITICAL)
        try:
            return method(*args, **kwargs)
        finally:
            logging.disable(logging.NOTSET)

    return wrapper


class Peer:
    provider = ""
    name = TOKEN

    def __init_subclass__(cls) -> None:
        for name in ("current", "states", "value", "stages"):
            if name in vars(cls):
                setattr(cls, name, quiet(vars(cls)[name]))

    def params(self) -> dict[str, Any]:
        return {"provider": self.provider, "secret": self.name}

    def config(self) -> dict[str, Any]:
        return {}

    def current(self) -> str:
        raise NotImplementedError

    def states(self) -> dict[str, str]:
        """version id -> enabled | disabled | destroyed."""
        raise NotImplementedError

    def value(self, version: str | None = None) -> str | None:
        raise NotImplementedError


class GcpPeer(Peer):
    provider = "gcp"

    def __init__(self, sim: Any, alias: str = "") -> None:
        self.sim, self.alias = sim, alias
        self.name = f"{TOKEN}-aliased" if alias else TOKEN

    def params(self) -> dict[str, Any]:
        return {**super().params(), "project": "demo", **({"alias": self.alias} if self.alias else {})}

    def config(self) -> dict[str, Any]:
        return {"gcp_secrets": {**self.sim.provider(), "timeout": 5}}

    def current(self) -> str:
        if self.alias:
            return str(self.sim.world.aliases("demo", self.name)[self.alias])
        return str(self.sim.world.versions("demo", self.name)[-1]["number"])

    def states(self) -> dict[str, str]:
        return {str(v["number"]): v["state"].lower() for v in self.sim.world.versions("demo", self.name)}

    def value(self, version: str | None = None) -> str | None:
        data = self.sim.world.value("demo", self.name, version or self.current())
        return data.decode() if data is not None else None


class AwsPeer(Peer):
    provider = "aws"

    def __init__(self, url: str) -> None:
        import boto3

        self.url = url
        self.name = f"{TOKEN}-{uuid.uuid4().hex[:8]}"
        self.client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=url)
        self.client.create_secret(Name=self.name, SecretString=f"first-{uuid.uuid4().hex}")

    def config(self) -> dict[str, Any]:
        return {"aws": {"region": "us-east-1", "endpoint": self.url, "timeout": 5}}

    def stages(self) -> dict[str, list[str]]:
        # describe_secret, not the unlabelled default: moto does not move the default when
        # AWSCURRENT moves (update_secret_version_stage)
        return dict(self.client.describe_secret(SecretId=self.name)["VersionIdsToStages"])

    def current(self) -> str:
        return next(v for v, stages in self.stages().items() if "AWSCURRENT" in stages)

    def states(self) -> dict[str, str]:
        return {v: "enabled" if stages else "disabled" for v, stages in self.stages().items()}

    def value(self, version: str | None = None) -> str | None:
        which = {"VersionId": version} if version else {"VersionStage": "AWSCURRENT"}
        return str(self.client.get_secret_value(SecretId=self.name, **which)["SecretString"])


class AzurePeer(Peer):
    provider = "azure"

    def __init__(self, sim: Any) -> None:
        self.sim = sim

    def config(self) -> dict[str, Any]:
        return {"azure": {**self.sim.provider(), "timeout": 5}}

    def current(self) -> str:
        return str(self.sim.world.versions(self.name)[-1]["id"])

    def states(self) -> dict[str, str]:
        return {v["id"]: "enabled" if v["enabled"] else "disabled" for v in self.sim.world.versions(self.name)}

    def value(self, version: str | None = None) -> str | None:
        return str(self.sim.world.value(self.name, version))


class LocalPeer(Peer):
    provider = "local"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700)
        now = time.time()
        versions = [{"id": "1", "created": now - 100 * 86400, "state": "enabled", "value": f"one-{uuid.uuid4().hex}"},
                    {"id": "2", "created": now - 30 * 86400, "state": "enabled", "value": f"two-{uuid.uuid4().hex}"}]
        (folder / f"{self.name}.versions.json").write_text(json.dumps({"name": self.name, "current": "2",
                                                                       "versions": versions}))
        (folder / self.name).write_text(versions[1]["value"])

    def params(self) -> dict[str, Any]:
        return {**super().params(), "store": str(self.folder)}

    def doc(self) -> dict[str, Any]:
        return dict(json.loads((self.folder / f"{self.name}.versions.json").read_text()))

    def current(self) -> str:
        return str(self.doc()["current"])

    def states(self) -> dict[str, str]:
        return {r["id"]: r["state"] for r in self.doc()["versions"]}

    def value(self, version: str | None = None) -> str | None:
        if version is None:
            return (self.folder / self.name).read_text()
        record = next(r for r in self.doc()["versions"] if r["id"] == version)
        return record.get("value")


@pytest.fixture(params=PROVIDERS)
def peer(request: pytest.FixtureRequest, tmp_path: Path) -> Peer:
    kind = request.param
    if kind in ("gcp", "gcp-alias"):
        return GcpPeer(request.getfixturevalue("gcp_sim"), alias="current" if kind == "gcp-alias" else "")
    if kind == "aws":
        return AwsPeer(request.getfixturevalue("moto_url"))
    if kind == "azure":
        return AzurePeer(request.getfixturevalue("kv_sim"))
    return LocalPeer(tmp_path / "store")


def config_for(*peers: Peer, **raw: Any) -> Config:
    providers: dict[str, Any] = {}
    for p in peers:
        providers.update(p.config())
    return Config(raw={"providers": providers, **raw})


def respond(runbook: str | Path, tmp_path: Path, config: Config, observers: tuple[Any, ...] = (),
            **inputs: Any) -> session.Result:
    path = runbook if isinstance(runbook, Path) else RUNBOOKS / f"{runbook}.yaml"
    options = session.Options(sync=False, yes=True, interactive=False, incident_dir=str(tmp_path / "incidents"),
                              observers=observers)
    return session.respond(path, inputs, config, options)


class Messages:
    """An observer keeping what actions said through ``ctx.log`` (messages are not journaled)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[dict[str, Any]] = []

    def event(self, event: Any) -> None:
        self.events.append(dict(event))

    def message(self, step: str, text: str) -> None:
        self.lines.append(text)


# -- the canary ------------------------------------------------------------------------------------------
PLANTED = CANARY[:24].encode()  # every generated value begins with it: 32 stable base64 characters
NEEDLES = (CANARY, base64.b64encode(PLANTED).decode(),
           base64.b64encode(base64.b64encode(PLANTED)[:30]).decode())  # GCP carries the value base64-encoded
SERVER_SIDE = ("moto", "werkzeug")  # moto runs in this process: its server logs what it receives, as a store may


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture,
           capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Every test plants a canary: each generated value starts with it (and the planted-value tests
    pass it whole). Afterwards it must be in no journal line, artifact or report (the incident
    folders), console output and no log record: SDK debug logs included."""
    import secrets

    import pyirt.actions.secrets.generate as generate

    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(generate, "token_bytes", lambda n: (PLANTED + secrets.token_bytes(n))[:n])
    yield
    out, err = capsys.readouterr()
    sys.stdout.write(out)
    sys.stderr.write(err)
    files = [p for p in tmp_path.rglob("*") if p.is_file() and "store" not in p.relative_to(tmp_path).parts]
    for needle in NEEDLES:
        assert needle not in out and needle not in err
        for path in files:
            assert needle.encode() not in path.read_bytes(), path
        for record in [*caplog.get_records("setup"), *caplog.get_records("call")]:  # .records: teardown's only
            if not record.name.startswith(SERVER_SIDE):
                assert needle not in f"{record.getMessage()} {vars(record)}", record.name

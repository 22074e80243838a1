"""Which Docker engine to talk to, a client for it, and the one place Docker errors are mapped.

Engines come from ``providers.docker`` in ``irt.yaml``: ``host`` (``unix://…`` or ``tcp://…``),
``tls: {ca, cert, key, verify}``, ``timeout``, and named engines under ``hosts:``; otherwise
``$DOCKER_HOST``; otherwise the local socket. The ``docker`` SDK is imported here, lazily.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyirt.errors import ActionError, InvalidInput
from pyirt.extras import require

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 30.0
REFUSED = "connection refused (is the engine running?)"
POOL_SIZE = 32  # connections kept per client: as many as docker.stats samples at once


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    host: str
    timeout: float = DEFAULT_TIMEOUT
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True

    @property
    def unix_path(self) -> str | None:
        return self.host[len("unix://"):] if self.host.startswith("unix://") else None


def engine_for(provider: Mapping[str, Any], name: str | None = None) -> Engine:
    """The engine named ``name`` (from ``hosts:``), or the default one."""
    if name:
        hosts = provider.get("hosts") or {}
        if name not in hosts:
            known = ", ".join(sorted(hosts)) or "none configured"
            raise InvalidInput(f"docker host {name!r} is not in providers.docker.hosts ({known})")
        return _engine(name, hosts[name])
    if provider.get("host"):
        return _engine("default", provider)
    env_host = os.environ.get("DOCKER_HOST")
    if env_host:
        cert_path = os.environ.get("DOCKER_CERT_PATH")
        tls = {"ca": f"{cert_path}/ca.pem", "cert": f"{cert_path}/cert.pem", "key": f"{cert_path}/key.pem"} \
            if cert_path and os.environ.get("DOCKER_TLS_VERIFY") == "1" else {}
        return _engine("env", {"host": env_host, "tls": tls, "timeout": provider.get("timeout")})
    return _engine("local", {"host": DEFAULT_HOST, "timeout": provider.get("timeout")})


def _engine(name: str, raw: Mapping[str, Any]) -> Engine:
    tls = raw.get("tls") or {}
    timeout = raw.get("timeout")
    return Engine(
        name=name, host=str(raw.get("host") or DEFAULT_HOST),
        timeout=float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT,
        ca=tls.get("ca"), cert=tls.get("cert"), key=tls.get("key"), verify=bool(tls.get("verify", True)),
    )


def client(engine: Engine) -> Any:
    """A ``docker.DockerClient`` for ``engine`` (API version negotiated, every call with a timeout)."""
    docker = require("docker", "docker")
    if engine.unix_path:
        _probe(engine, engine.unix_path)
    tls: Any = False
    if engine.ca or engine.cert:
        cert = (engine.cert, engine.key) if engine.cert and engine.key else None
        tls = docker.tls.TLSConfig(client_cert=cert, ca_cert=engine.ca, verify=engine.ca if engine.verify else False)
    with map_errors(engine, "connect"):
        return docker.DockerClient(base_url=engine.host, tls=tls, timeout=engine.timeout, version="auto",
                                   max_pool_size=POOL_SIZE)


def _probe(engine: Engine, path: str) -> None:
    """Connect to a local socket once, closing it whatever happens: the SDK's own connect leaves its
    socket open (a ResourceWarning) when the engine is not there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(engine.timeout)
        with map_errors(engine, "connect"):
            probe.connect(path)


@contextmanager
def map_errors(engine: Engine, what: str) -> Iterator[None]:
    """Docker SDK and ``requests`` exceptions as one-line ActionErrors naming ``what`` and the engine."""
    docker_errors = require("docker.errors", "docker")
    requests_exc = require("requests.exceptions", "docker")
    where = f"docker engine {engine.host}"
    try:
        yield
    except docker_errors.NotFound as exc:
        raise ActionError(f"{what}: not found on {where}: {_explain(exc)}", backend="docker",
                          retryable=False) from None
    except docker_errors.APIError as exc:
        status = getattr(exc, "status_code", None) or 0
        retryable = status >= 500 or status == 429
        raise ActionError(f"{what}: {where} refused ({status}): {_explain(exc)}", backend="docker",
                          retryable=retryable) from None
    except (requests_exc.Timeout, TimeoutError) as exc:
        raise ActionError(f"{what}: {where} did not answer in time ({type(exc).__name__})", backend="docker") from None
    except PermissionError:
        raise ActionError(f"{what}: permission denied on {where}", backend="docker", retryable=False) from None
    except (requests_exc.ConnectionError, ConnectionError, FileNotFoundError) as exc:
        raise ActionError(f"{what}: cannot reach {where}: {_first_line(exc)}", backend="docker") from None
    except docker_errors.DockerException as exc:
        text = _first_line(exc)
        if "Permission denied" in text or "PermissionError" in text:
            raise ActionError(f"{what}: permission denied on {where}", backend="docker", retryable=False) from None
        if text == REFUSED:  # the SDK wraps a refused connection while it negotiates the API version
            raise ActionError(f"{what}: cannot reach {where}: {text}", backend="docker") from None
        raise ActionError(f"{what}: {where}: {text}", backend="docker") from None
    except requests_exc.RequestException as exc:
        raise ActionError(f"{what}: {where}: {_first_line(exc)}", backend="docker") from None


def _explain(exc: Any) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or _first_line(exc)).strip()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if "Connection refused" in text or "No such file or directory" in text:
        return REFUSED
    return text.splitlines()[0][:300] if text else type(exc).__name__

"""What keeps a drill off the real world, enforced rather than configured.

``loopback_only()``: while a drill runs, a process audit hook (:func:`sys.addaudithook`) refuses
every connection, datagram and name lookup that is not for a loopback address or a unix socket,
with ``ConnectionRefusedError`` naming what was refused. The simulators are all on loopback, so
a runbook that names a real endpoint (a webhook URL in a template, a ``DOCKER_HOST``, Google's
API) fails loudly instead of touching production. Audit hooks cannot be removed, so the hook is
installed once and does nothing while no drill runs.

``isolated_environment(home)``: the credential and proxy variables of cloud SDKs and Docker are
removed for the run (restored afterwards), ``HOME`` and the SDKs' configuration folders point at
an empty temporary folder (so ``~/.aws/credentials``, ``~/.config/gcloud``, ``~/.docker/config.json``
and ``~/.azure`` are never read), and the metadata servers are pointed at a closed loopback port.
The process environment is shared by every thread: a drill is meant to own its process.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CLEARED = re.compile(r"^(GOOGLE_APPLICATION_CREDENTIALS|GOOGLE_.*CREDENTIALS.*|GOOGLE_API_KEY|CLOUDSDK_.*|GCLOUD_.*|"
                     r"GCE_METADATA_.*|AWS_.*|AZURE_.*|ARM_.*|MSI_.*|IDENTITY_.*|IMDS_.*|DOCKER_.*|"
                     r"(HTTP|HTTPS|ALL|FTP|NO)_PROXY|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)$", re.IGNORECASE)
CLOSED = "127.0.0.1:9"  # the discard port: nothing listens there

_state = {"active": 0, "installed": False}
_lock = threading.Lock()
refused: list[str] = []
"""What the guard refused during drills, most recent last (for the scorecard)."""


def _loopback(host: Any) -> bool:
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped is not None and mapped.is_loopback)


def _refuse(what: str) -> None:
    refused.append(what)
    raise ConnectionRefusedError(errno.ECONNREFUSED, f"irt drill refused to reach {what}: a drill only talks to "
                                                     "its simulators on loopback")


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _state["active"] or not event.startswith("socket."):
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if isinstance(address, tuple) and address and not _loopback(address[0]):
            _refuse(f"{address[0]}:{address[1]}" if len(address) > 1 else str(address[0]))
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
                   "socket.getnameinfo"):
        host = args[0] if args else None
        port = args[1] if event == "socket.getaddrinfo" and len(args) > 1 else None
        if isinstance(host, tuple):
            host, port = (host[0], host[1] if len(host) > 1 else None) if host else (None, None)
        if not _loopback(host):
            host = host.decode("ascii", "replace") if isinstance(host, bytes) else host
            _refuse(f"{host}:{port}" if port not in (None, 0, "") else str(host))


@contextmanager
def loopback_only() -> Iterator[None]:
    """Refuse every non-loopback connection and name lookup in this process while the block runs."""
    with _lock:
        if not _state["installed"]:
            sys.addaudithook(_hook)
            _state["installed"] = True
        _state["active"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["active"] -= 1


@contextmanager
def isolated_environment(home: Path) -> Iterator[dict[str, str]]:
    """The process environment without credentials, with ``HOME`` and the SDK config folders under
    ``home``; restored whole afterwards. Yields what was removed (names only)."""
    saved = dict(os.environ)
    removed = {name: "" for name in saved if CLEARED.match(name)}
    for name in removed:
        del os.environ[name]
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "HOME": str(home),
        "DOCKER_CONFIG": str(home / ".docker"),
        "CLOUDSDK_CONFIG": str(home / ".config" / "gcloud"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AZURE_CONFIG_DIR": str(home / ".azure"),
        "NO_GCE_CHECK": "True",
        "GCE_METADATA_HOST": CLOSED,
        "GCE_METADATA_IP": CLOSED,
        "NO_PROXY": "*",
        "no_proxy": "*",
    })
    try:
        yield removed
    finally:
        os.environ.clear()
        os.environ.update(saved)

"""A local file store: one folder, two files per secret, both mode 0600, written atomically.

``<store>/<name>`` holds the current value and nothing else: what a consumer reads (a mounted
secret, an ``env_file``). ``<store>/<name>.versions.json`` keeps every version (id, creation time,
state, the rotation request that stored it, the value until destroyed) and which one is current.
A new version is staged in the versions file; ``promote`` rewrites the value file. Each change
holds an exclusive lock (``.<name>.lock``) for its read-modify-write, and each file is replaced
whole (temporary file, fsync, rename, fsync of the folder), so a crash leaves the old or the new.

``providers.local_secrets.dir`` in irt.yaml (or the step's ``store``) names the folder; the
default is ``$IRT_HOME/secrets``, else ``~/.irt/secrets``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pyirt.actions.api import ActionContext
from pyirt.actions.backend import CallSettings
from pyirt.actions.secrets.base import Backend, Promotion, SecretRef, Version
from pyirt.core.secrets import Secret
from pyirt.errors import ActionError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
STATES = ("enabled", "disabled", "destroyed")


def default_dir() -> Path:
    home = os.environ.get("IRT_HOME")
    return Path(home) / "secrets" if home else Path("~/.irt/secrets").expanduser()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: mode 0600 from the first byte, fsynced, renamed, folder fsynced."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class LocalSecrets(Backend):
    name: ClassVar[str] = "local"
    staged = True
    promotion = "current file"

    def __init__(self, ref: SecretRef, provider: Mapping[str, Any], ctx: ActionContext) -> None:
        super().__init__(ref, CallSettings.from_provider(provider), ctx, "secrets.local")
        if not NAME.match(ref.name):
            raise ActionError(f"local secret name {ref.name!r}: letters, digits, '.', '_' and '-' only",
                              backend=self.backend, retryable=False)
        folder = ref.store or str(provider.get("dir") or "") or str(default_dir())
        self.dir = Path(folder).expanduser()
        self.value_file = self.dir / ref.name
        self.versions_file = self.dir / f"{ref.name}.versions.json"

    # -- the store ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def map_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            where = exc.filename or self.dir
            raise ActionError(self.ctx.redact(f"{self.ref}: {what}: {exc.strerror or exc} ({where})"),
                              backend=self.backend, retryable=False) from None

    @contextlib.contextmanager
    def _locked(self, what: str, create: bool = False) -> Iterator[dict[str, Any]]:
        """The versions document under the lock; written back when the block changed it."""
        with self.map_errors(what):
            if create:
                self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            elif not self.versions_file.exists():
                raise ActionError(f"{self.ref}: not found in {self.dir}", backend=self.backend, retryable=False)
            lock = os.open(self.dir / f".{self.ref.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                doc = self._load()
                before = json.dumps(doc, sort_keys=True)
                yield doc
                if json.dumps(doc, sort_keys=True) != before:
                    write_atomic(self.versions_file, json.dumps(doc, indent=1).encode("utf-8"))
            finally:
                os.close(lock)

    def _load(self) -> dict[str, Any]:
        if not self.versions_file.exists():
            return {"name": self.ref.name, "current": None, "versions": []}
        try:
            doc = json.loads(self.versions_file.read_text(encoding="utf-8"))
        except ValueError:
            raise ActionError(f"{self.ref}: {self.versions_file} is not valid JSON", backend=self.backend,
                              retryable=False) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("versions"), list):
            raise ActionError(f"{self.ref}: {self.versions_file} is not a version list", backend=self.backend,
                              retryable=False)
        return doc

    def _record(self, doc: Mapping[str, Any], version: str) -> dict[str, Any]:
        for record in doc["versions"]:
            if str(record.get("id")) == version:
                return record  # type: ignore[no-any-return]
        raise ActionError(f"{self.ref}: version {version} does not exist", backend=self.backend, retryable=False)

    # -- the protocol ------------------------------------------------------------------------------
    def add_version(self, value: Secret, request: str) -> str:
        with self._locked("store a new version", create=True) as doc:
            for record in doc["versions"]:
                if request and record.get("request") == request:
                    return str(record["id"])
            number = 1 + max((int(r["id"]) for r in doc["versions"]), default=0)
            doc["versions"].append({"id": str(number), "created": time.time(), "state": "enabled",
                                    "request": request, "value": value.reveal()})
            return str(number)

    def promote(self, version: str, request: str = "") -> Promotion:
        with self._locked("promote a version") as doc:
            record = self._record(doc, version)
            if record.get("state") != "enabled":
                raise ActionError(f"{self.ref}: version {version} is {record.get('state')} and cannot become "
                                  "current", backend=self.backend, retryable=False)
            previous = doc.get("current")
            changed = previous != version or not self.value_file.exists()
            if changed:
                write_atomic(self.value_file, str(record["value"]).encode("utf-8"))
                doc["current"] = version
            return Promotion(version, str(previous) if previous else None, self.promotion, changed=changed)

    def read(self, version: str | None = None) -> tuple[str, Secret]:
        with self.map_errors("read"):
            doc = self._load()
        wanted = version or doc.get("current")
        if not wanted:
            raise ActionError(f"{self.ref}: has no current version", backend=self.backend, retryable=False)
        record = self._record(doc, str(wanted))
        if record.get("state") != "enabled":
            raise ActionError(f"{self.ref}: version {wanted} is {record.get('state')}", backend=self.backend,
                              retryable=False)
        value = str(record["value"])
        self.ctx.redact.add(value)
        return str(wanted), Secret(value)

    def list_versions(self) -> list[Version]:
        with self.map_errors("list versions"):
            doc = self._load()  # a secret not yet in the store has no versions: its first rotation creates it
        current = str(doc.get("current") or "")
        found = [Version(id=str(r["id"]), created=float(r.get("created") or 0), state=r.get("state", "enabled"),
                         current=str(r["id"]) == current, request=str(r.get("request") or ""))
                 for r in doc["versions"] if r.get("state") in STATES]
        return sorted(found, key=lambda v: int(v.id), reverse=True)

    def disable(self, version: str) -> None:
        self._set_state(version, "disabled")

    def enable(self, version: str) -> None:
        with self._locked(f"enable version {version}") as doc:
            record = self._record(doc, version)
            if record.get("state") == "destroyed":
                raise ActionError(f"{self.ref}: version {version} is destroyed", backend=self.backend, retryable=False)
            record["state"] = "enabled"

    def destroy(self, version: str) -> None:
        self._set_state(version, "destroyed")

    def _set_state(self, version: str, state: str) -> None:
        with self._locked(f"{state[:-1]} version {version}") as doc:
            if str(doc.get("current")) == version:
                raise ActionError(f"{self.ref}: version {version} is current", backend=self.backend, retryable=False)
            record = self._record(doc, version)
            if record.get("state") == "destroyed":
                return
            record["state"] = state
            if state == "destroyed":
                record.pop("value", None)
                record["destroyed"] = time.time()

"""Incident folders: where they live, how they are named, found, listed and locked.

An incident is ``<root>/<id>/`` holding ``journal.jsonl``, ``artifacts/`` and reports. The root is
``--incident-dir``, else ``$IRT_HOME/incidents``, else ``./incidents``. Ids sort by time and carry
the runbook's name: ``20261204T031502Z-pixashot-security-incident-3f9a``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyirt.core import journal
from pyirt.errors import Conflict, IncidentNotFound, InvalidInput

JOURNAL = "journal.jsonl"
_SLUG = re.compile(r"[^a-z0-9]+")
_ID = re.compile(r"^\d{8}T\d{6}Z-[a-z0-9-]+$")


def root(option: str | os.PathLike[str] | None = None) -> Path:
    if option:
        return Path(option)
    home = os.environ.get("IRT_HOME")
    return Path(home) / "incidents" if home else Path("incidents")


def slug(text: str, limit: int = 40) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:limit].strip("-") or "incident"


def new_id(name: str, now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{slug(name)}-{secrets.token_hex(2)}"


def create(base: Path, incident_id: str) -> Path:
    folder = base / incident_id
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise Conflict(f"incident folder {folder} already exists") from None
    except OSError as exc:
        raise InvalidInput(f"cannot create incident folder {folder}: {exc.strerror}") from None
    return folder


def find(base: Path, ref: str) -> Path:
    """The folder of incident ``ref``: a full id, a unique prefix or suffix, or a path to the folder."""
    direct = Path(ref)
    if (direct / JOURNAL).is_file():
        return direct
    if (base / ref / JOURNAL).is_file():
        return base / ref
    matches = [p for p in list_folders(base) if p.name.startswith(ref) or p.name.endswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches[:5])
        raise IncidentNotFound(f"incident {ref!r} is ambiguous in {base}: {names}")
    raise IncidentNotFound(f"no incident {ref!r} in {base}")


def list_folders(base: Path) -> list[Path]:
    if not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if (p / JOURNAL).is_file() and _ID.match(p.name)),
                  key=lambda p: p.name)


def read_state(folder: Path) -> journal.IncidentState:
    return journal.fold(journal.parse((folder / JOURNAL).read_bytes()).events)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold the incident's lock: one process runs an incident at a time."""
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise Conflict(f"incident {folder.name} is being run by pid {holder}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)

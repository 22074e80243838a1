"""The ``cloudrun:`` section of a ``kind: World`` document, read into simulator state.

```yaml
cloudrun:
  - project: demo
    region: us-central1                 # default us-central1
    service: pixashot
    url: http://127.0.0.1:9000          # optional: the service's URL (a local health endpoint)
    operation_delay: 2s                 # how long an update's long-running operation takes (default 0)
    revisions:                          # required; age or created (RFC 3339) dates each one
      - {name: pixashot-00041-abc, ready: true, age: 3d, tags: [stable], image: pixashot:1.41}
      - {name: pixashot-00042-bad, ready: true, age: 10m}
      - {name: pixashot-00043-oom, ready: false, age: 2m, message: "container failed to start"}
    traffic: [{revision: pixashot-00042-bad, percent: 100}]   # or {latest: true, percent: 100}; default 100% latest
    faults:                             # optional, scoped to this service
      - {op: UpdateService, status: 503, times: 2, retry_after: 1s}
```

Other sections (``containers``, ``secrets``, ``channels``...) belong to other simulators and are
ignored here. A problem raises :class:`~pyirt.sim.cloudrun_state.WorldError` naming its path.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

from pyirt.core.durations import parse_duration
from pyirt.sim.cloudrun_state import NOT_READY, Fault, Revision, Service, Target, WorldError, make_fault

SERVICE_KEYS = {"project", "region", "service", "url", "operation_delay", "revisions", "traffic", "faults",
                "labels", "description"}
REVISION_KEYS = {"name", "ready", "age", "created", "tags", "image", "message"}


def parse_world(world: Mapping[str, Any]) -> tuple[list[Service], list[Fault]]:
    if not isinstance(world, Mapping):
        raise WorldError("a World is a map with a cloudrun: list")
    entries = world.get("cloudrun") or []
    if not isinstance(entries, list):
        raise WorldError("cloudrun: expected a list of services")
    services: list[Service] = []
    faults: list[Fault] = []
    seen: set[tuple[str, str, str]] = set()
    now = time.time()
    for i, entry in enumerate(entries):
        svc, svc_faults = _service(entry, f"cloudrun[{i}]", now)
        if svc.key in seen:
            raise WorldError(f"cloudrun[{i}]: service {'/'.join(svc.key)} is defined twice")
        seen.add(svc.key)
        services.append(svc)
        faults += svc_faults
    return services, faults


def _service(entry: Any, where: str, now: float) -> tuple[Service, list[Fault]]:
    if not isinstance(entry, Mapping):
        raise WorldError(f"{where}: expected a map with project, service and revisions")
    unknown = sorted(set(entry) - SERVICE_KEYS)
    if unknown:
        raise WorldError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                         f"(known: {', '.join(sorted(SERVICE_KEYS))})")
    for key in ("project", "service"):
        if not entry.get(key):
            raise WorldError(f"{where}.{key}: required")
    project, region, name = str(entry["project"]), str(entry.get("region") or "us-central1"), str(entry["service"])
    raw_revisions = entry.get("revisions")
    if not isinstance(raw_revisions, list) or not raw_revisions:
        raise WorldError(f"{where}.revisions: a non-empty list is required")
    revisions: list[Revision] = []
    tags: list[Target] = []
    for j, raw in enumerate(raw_revisions):
        rev, rev_tags = _revision(raw, f"{where}.revisions[{j}]", name, now, len(raw_revisions) - j)
        if any(r.name == rev.name for r in revisions):
            raise WorldError(f"{where}.revisions[{j}].name: {rev.name} is listed twice")
        revisions.append(rev)
        tags += [Target(rev.name, 0, tag) for tag in rev_tags]
    try:
        delay = parse_duration(entry.get("operation_delay") or 0)
    except ValueError as exc:
        raise WorldError(f"{where}.operation_delay: {exc}") from None
    svc = Service(project=project, region=region, name=name, revisions=revisions, traffic=[],
                  url=str(entry["url"]) if entry.get("url") else None, operation_delay=delay,
                  labels={str(k): str(v) for k, v in (entry.get("labels") or {}).items()},
                  description=str(entry.get("description") or ""),
                  created=min(r.created for r in revisions))
    traffic = _traffic(entry.get("traffic"), f"{where}.traffic", svc)
    named: set[str | None] = {t.tag for t in traffic if t.tag}
    for tag in tags:
        if tag.tag in named:
            raise WorldError(f"{where}: tag {tag.tag} is given twice (on a revision and in traffic)")
        named.add(tag.tag)
    svc.traffic = traffic + tags
    newest = svc.newest(ready_only=True)
    svc.statuses = [Target(newest.name if t.latest and newest else t.revision, t.percent, t.tag, t.latest)
                    for t in svc.traffic]
    faults = []
    for k, raw in enumerate(entry.get("faults") or []):
        if not isinstance(raw, Mapping):
            raise WorldError(f"{where}.faults[{k}]: expected a map with op and status, latency or hang")
        spec = dict(raw)
        op = str(spec.pop("op", None) or spec.pop("operation", None) or "*")
        spec.setdefault("project", project)
        spec.setdefault("region", region)
        spec.setdefault("service", name)
        try:
            faults.append(make_fault(op, **spec))
        except ValueError as exc:
            raise WorldError(f"{where}.faults[{k}]: {exc}") from None
    return svc, faults


def _revision(raw: Any, where: str, service: str, now: float, rank: int) -> tuple[Revision, list[str]]:
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise WorldError(f"{where}: expected a map with a name")
    unknown = sorted(set(raw) - REVISION_KEYS)
    if unknown:
        raise WorldError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} "
                         f"(known: {', '.join(sorted(REVISION_KEYS))})")
    name = str(raw["name"])
    if raw.get("created"):
        try:
            when = dt.datetime.fromisoformat(str(raw["created"]).replace("Z", "+00:00"))
        except ValueError:
            raise WorldError(f"{where}.created: not an RFC 3339 time: {raw['created']!r}") from None
        created = (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
    else:
        try:
            # without an age, revisions are an hour apart, the first listed the oldest
            created = now - (parse_duration(raw["age"]) if raw.get("age") is not None else rank * 3600.0)
        except ValueError as exc:
            raise WorldError(f"{where}.age: {exc}") from None
    ready = raw.get("ready", True)
    if not isinstance(ready, bool):
        raise WorldError(f"{where}.ready: expected true or false")
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise WorldError(f"{where}.tags: expected a list of tag names")
    rev = Revision(name=name, created=created, ready=ready, image=str(raw.get("image") or f"{service}:{name}"),
                   message="" if ready else str(raw.get("message") or NOT_READY))
    return rev, tags


def _traffic(raw: Any, where: str, svc: Service) -> list[Target]:
    if raw is None:
        return [Target(percent=100, latest=True)]
    if not isinstance(raw, list):
        raise WorldError(f"{where}: expected a list of {{revision, percent}}")
    result: list[Target] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise WorldError(f"{where}[{i}]: expected a map")
        percent = item.get("percent", 0)
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise WorldError(f"{where}[{i}].percent: an integer from 0 to 100")
        latest = bool(item.get("latest"))
        revision = item.get("revision")
        if latest == bool(revision):
            raise WorldError(f"{where}[{i}]: name a revision or set latest: true (one of them)")
        if revision:
            rev = svc.revision(str(revision))
            if rev is None:
                raise WorldError(f"{where}[{i}].revision: {revision} is not in revisions")
            if percent and not rev.ready:
                raise WorldError(f"{where}[{i}]: revision {revision} is not ready and cannot serve traffic")
        result.append(Target(str(revision) if revision else None, percent, item.get("tag"), latest))
    if result and sum(t.percent for t in result) != 100:
        raise WorldError(f"{where}: percents add up to {sum(t.percent for t in result)}, not 100")
    return result or [Target(percent=100, latest=True)]

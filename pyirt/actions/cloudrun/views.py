"""``run_v2`` objects (proto-plus messages) read into the plain maps the rest of the adapter uses.

Only attributes are read here, so nothing is imported from the SDK.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyirt.actions.cloudrun.split import Entry, entry, short

LATEST_TYPE = 1  # TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST
SUCCEEDED, FAILED, RECONCILING = 4, 3, 2  # Condition.State


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value))


def _time(value: Any) -> str | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def traffic_entry(target: Any) -> Entry:
    latest = int(getattr(target, "type_", 0)) == LATEST_TYPE
    return entry(target.revision or None, int(target.percent), target.tag or None, latest)


def status_entry(status: Any) -> Entry:
    out = traffic_entry(status)
    out["uri"] = status.uri or None
    return out


def service_view(svc: Any) -> dict[str, Any]:
    cond = svc.terminal_condition
    state = int(getattr(cond, "state", 0) or 0)
    return {
        "name": svc.name,
        "etag": svc.etag,
        "generation": int(svc.generation),
        "observed_generation": int(svc.observed_generation),
        "uri": svc.uri or None,
        "urls": list(svc.urls),
        "traffic": [traffic_entry(t) for t in svc.traffic],
        "statuses": [status_entry(t) for t in svc.traffic_statuses],
        "latest_ready": short(svc.latest_ready_revision) or None,
        "latest_created": short(svc.latest_created_revision) or None,
        "reconciling": bool(svc.reconciling),
        "ready": state == SUCCEEDED,
        "condition": _enum_name(getattr(cond, "state", "")) if state else None,
        "condition_message": getattr(cond, "message", "") or None,
    }


def revision_view(rev: Any) -> dict[str, Any]:
    ready = next((c for c in rev.conditions if c.type_ == "Ready"), None)
    state = int(getattr(ready, "state", 0) or 0) if ready is not None else 0
    containers = list(rev.containers)
    return {
        "name": short(rev.name),
        "ready": state == SUCCEEDED,
        "state": _enum_name(ready.state) if ready is not None else "UNKNOWN",
        "message": (ready.message if ready is not None else "") or None,
        "create_time": _time(rev.create_time),
        "image": containers[0].image if containers else None,
    }

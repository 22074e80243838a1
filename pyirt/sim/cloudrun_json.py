"""The Cloud Run Admin API v2 JSON of the simulator's resources: camelCase, int64 as strings,
default values left out, timestamps in RFC 3339 with microseconds, enums by name or, when the client
asks for ``$alt=json;enum-encoding=int`` (as google-cloud-run's REST transport does), by number.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyirt.sim.cloudrun_state import Operation, Revision, Service, Target

# Enum numbers of google/cloud/run/v2 (and google/api/launch_stage.proto): JSON may carry either form.
TRAFFIC_TYPES = {"TRAFFIC_TARGET_ALLOCATION_TYPE_UNSPECIFIED": 0, "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST": 1,
                 "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION": 2}
CONDITION_STATES = {"STATE_UNSPECIFIED": 0, "CONDITION_PENDING": 1, "CONDITION_RECONCILING": 2,
                    "CONDITION_FAILED": 3, "CONDITION_SUCCEEDED": 4}
SEVERITIES = {"SEVERITY_UNSPECIFIED": 0, "ERROR": 1, "WARNING": 2, "INFO": 3}
INGRESS = {"INGRESS_TRAFFIC_ALL": 1}
LAUNCH_STAGES = {"GA": 4}
LATEST, REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"
_FIX = "irt-sim@example.com"


def _ts(epoch: float) -> str:
    whole = int(epoch)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{int((epoch - whole) * 1e6):06d}Z"



def _e(table: Mapping[str, int], name: str, ints: bool) -> str | int:
    return table[name] if ints else name


def _condition(kind: str, state: str, when: float, ints: bool, message: str = "") -> dict[str, Any]:
    cond: dict[str, Any] = {"type": kind, "state": _e(CONDITION_STATES, state, ints), "lastTransitionTime": _ts(when)}
    if message:
        cond["message"] = message
        cond["severity"] = _e(SEVERITIES, "ERROR", ints)
    return cond


def _target(svc: Service, t: Target, ints: bool, status: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _e(TRAFFIC_TYPES, LATEST if t.latest else REVISION, ints)}
    if t.revision and (status or not t.latest):
        out["revision"] = t.revision
    if t.percent:
        out["percent"] = t.percent
    if t.tag:
        out["tag"] = t.tag
        if status:
            out["uri"] = svc.uri(t.tag)
    return out


def render_service(svc: Service, ints: bool) -> dict[str, Any]:
    newest, ready = svc.newest(ready_only=False), svc.newest(ready_only=True)
    reconciling = svc.pending > 0
    state = "CONDITION_RECONCILING" if reconciling else "CONDITION_FAILED" if svc.failure else "CONDITION_SUCCEEDED"
    message = svc.failure if state == "CONDITION_FAILED" else ""
    terminal = _condition("Ready", state, svc.updated, ints, message)
    out: dict[str, Any] = {
        "name": svc.full_name, "uid": svc.uid, "generation": str(svc.generation),
        "createTime": _ts(svc.created), "updateTime": _ts(svc.updated), "creator": _FIX, "lastModifier": _FIX,
        "ingress": _e(INGRESS, "INGRESS_TRAFFIC_ALL", ints), "launchStage": _e(LAUNCH_STAGES, "GA", ints),
        "template": {"containers": [{"image": newest.image}] if newest else [],
                     "maxInstanceRequestConcurrency": 80},
        "traffic": [_target(svc, t, ints, status=False) for t in svc.traffic],
        "urls": [svc.uri()], "uri": svc.uri(),
        "observedGeneration": str(svc.observed), "terminalCondition": terminal,
        "conditions": [_condition("RoutesReady", state, svc.updated, ints, message),
                       _condition("ConfigurationsReady", "CONDITION_SUCCEEDED", svc.updated, ints)],
        "trafficStatuses": [_target(svc, t, ints, status=True) for t in svc.statuses],
        "etag": svc.etag,
    }
    if reconciling:
        out["reconciling"] = True
    if ready:
        out["latestReadyRevision"] = f"{svc.full_name}/revisions/{ready.name}"
    if newest:
        out["latestCreatedRevision"] = f"{svc.full_name}/revisions/{newest.name}"
    for name in ("labels", "annotations", "description"):
        if getattr(svc, name):
            out[name] = copy.deepcopy(getattr(svc, name))
    return out


def render_revision(svc: Service, rev: Revision, ints: bool) -> dict[str, Any]:
    state = "CONDITION_SUCCEEDED" if rev.ready else "CONDITION_FAILED"
    return {
        "name": f"{svc.full_name}/revisions/{rev.name}", "uid": rev.uid, "generation": "1",
        "createTime": _ts(rev.created), "updateTime": _ts(rev.created),
        "launchStage": _e(LAUNCH_STAGES, "GA", ints), "service": svc.name,
        "maxInstanceRequestConcurrency": 80, "timeout": "300s",
        "containers": [{"image": rev.image, "ports": [{"name": "http1", "containerPort": 8080}]}],
        "conditions": [_condition("Ready", state, rev.created, ints, "" if rev.ready else rev.message),
                       _condition("ContainerHealthy", state, rev.created, ints, "" if rev.ready else rev.message)],
        "observedGeneration": "1", "etag": f'"{rev.uid[:20]}"',
    }


def render_operation(op: Operation, ints: bool) -> dict[str, Any]:
    any_service = "type.googleapis.com/google.cloud.run.v2.Service"
    out: dict[str, Any] = {"name": op.name,
                           "metadata": {"@type": any_service, **render_service(op.started, ints)}}
    if op.done:
        out["done"] = True
        if op.error is not None:
            out["error"] = {"code": op.error[0], "message": op.error[1]}
        elif op.response is not None:
            out["response"] = {"@type": any_service, **render_service(op.response, ints)}
    return out

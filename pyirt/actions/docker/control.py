"""Changing containers: ``docker.update`` (limits), ``docker.restart`` and ``docker.isolate``.

Each records what it replaces (journaled through a checkpoint before the change), so its default
undo restores the exact previous state and a resumed incident can tell whether the change landed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import NOT_DONE, ActionContext, UndoCall
from pyirt.actions.docker.base import DockerAction
from pyirt.actions.docker.engine import map_errors
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.errors import ActionError

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
HOST_PARAM = Param("host", "string", doc="a named engine from providers.docker.hosts")
LIMIT_KEYS = {"memory": "Memory", "memory_swap": "MemorySwap", "nano_cpus": "NanoCpus", "pids_limit": "PidsLimit"}


def parse_size(value: Any) -> int:
    """Bytes from ``4g``, ``512m``, ``1.5GiB`` or a number of bytes; -1 means unlimited."""
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        if str(value).strip() == "-1":
            return -1
        raise ValueError(f"not a size: {value!r} (use 512m, 4g or bytes)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def current_limits(container: Any) -> dict[str, int]:
    host = container.attrs.get("HostConfig") or {}
    return {key: int(host.get(field) or 0) for key, field in LIMIT_KEYS.items()}


def plan_limits(old: Mapping[str, int], params: Mapping[str, Any]) -> dict[str, int]:
    """The limits to write. Raising memory past the swap limit raises swap with it, keeping the
    same swap headroom; swap is never left unlimited (-1 breaks later raises on cgroup v1)."""
    new = dict(old)
    if params.get("memory") not in (None, ""):
        new["memory"] = parse_size(params["memory"])
        if new["memory"] == 0 and old["memory"] > 0:  # an undo back to "no limit"
            raise ValueError("the container had no memory limit before; the engine cannot remove one once set "
                             f"(it stays at {old['memory']} bytes): recreate the container without --memory")
        if 0 <= new["memory"] < 6 * 1024 * 1024 and new["memory"] != old["memory"]:
            raise ValueError("memory below 6m: the engine refuses it")
    if params.get("memory_swap") not in (None, ""):
        new["memory_swap"] = parse_size(params["memory_swap"])
    elif new["memory"] != old["memory"]:
        headroom = old["memory_swap"] - old["memory"] if old["memory_swap"] > 0 and old["memory"] > 0 else new["memory"]
        new["memory_swap"] = new["memory"] + max(headroom, 0)
    if new["memory_swap"] not in (0, -1) and new["memory_swap"] < new["memory"]:
        raise ValueError("memory_swap must be at least memory (it is memory plus swap)")
    if params.get("cpus") not in (None, ""):
        cpus = float(params["cpus"])
        if cpus <= 0:
            raise ValueError("cpus must be above 0")
        new["nano_cpus"] = int(cpus * 1e9)
    if params.get("pids_limit") not in (None, ""):
        new["pids_limit"] = int(params["pids_limit"])
    return new


class Update(DockerAction):
    spec = ActionSpec(
        name="docker.update",
        summary="Change a container's memory, swap, CPU and pids limits; the undo restores the old ones.",
        params=(
            Param("container", "string", required=True),
            Param("memory", "any", doc="4g, 512m or bytes"),
            Param("memory_swap", "any", doc="memory plus swap; default keeps the swap headroom"),
            Param("cpus", "number", doc="CPUs, e.g. 1.5"),
            Param("pids_limit", "int"),
            HOST_PARAM,
        ),
        idempotent=False,
        destructive=True,
        backend="docker",
        has_default_undo=True,
        outputs=("previous", "current", "changed"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        engine, client = self.connect(params, ctx)
        name = str(params["container"])
        with map_errors(engine, f"container {name}"):
            container = client.containers.get(name)
        old = current_limits(container)
        previous = dict(ctx.checkpointed.get("previous") or old)  # a re-run keeps the first "before"
        try:
            target = plan_limits(old, params)
        except ValueError as exc:
            raise ActionError(f"docker.update {name}: {exc}", backend="docker", retryable=False) from None
        if "previous" not in ctx.checkpointed:
            ctx.checkpoint({"previous": previous, "target": target})
        changes = {LIMIT_KEYS[k]: v for k, v in target.items() if v != old[k]}
        if changes:
            with map_errors(engine, f"update container {name}"):
                client.api._result(client.api._post_json(client.api._url("/containers/{0}/update", container.id),
                                                         data=changes), True)
                container.reload()
        current = current_limits(container)
        wrong = {k: (v, current[k]) for k, v in target.items() if current[k] != v}
        if wrong:
            raise ActionError(f"docker.update {name}: the engine kept other limits: {wrong}", backend="docker",
                              retryable=False)
        return {"container": name, "previous": previous, "current": current, "changed": sorted(changes)}

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        target, previous = ctx.checkpointed.get("target"), ctx.checkpointed.get("previous")
        if not target or not previous:
            return NOT_DONE  # the checkpoint comes before the change: without it nothing changed
        engine, client = self.connect(params, ctx)
        with map_errors(engine, f"container {params['container']}"):
            current = current_limits(client.containers.get(str(params["container"])))
        if current == target:
            return {"container": params["container"], "previous": previous, "current": current,
                    "changed": sorted(LIMIT_KEYS[k] for k in target if target[k] != previous.get(k))}
        return NOT_DONE

    def undo(self, params: Mapping[str, Any], output: Mapping[str, Any]) -> UndoCall | None:
        previous = output.get("previous") or {}
        if not previous:
            return None
        restore: dict[str, Any] = {"container": params["container"], "memory": previous.get("memory"),
                                   "memory_swap": previous.get("memory_swap") or None}
        if previous.get("nano_cpus"):
            restore["cpus"] = previous["nano_cpus"] / 1e9
        if previous.get("pids_limit") is not None:  # 0 is "no limit", which the engine can restore
            restore["pids_limit"] = previous["pids_limit"]
        if params.get("host"):
            restore["host"] = params["host"]
        # memory 0 is kept: "no limit before" must reach run(), which says it cannot be restored.
        return UndoCall("docker.update", {k: v for k, v in restore.items()
                                          if v is not None and (v != 0 or k in ("pids_limit", "memory"))})

    def describe(self, params: Mapping[str, Any]) -> str:
        parts = [f"{k}={params[k]}" for k in ("memory", "memory_swap", "cpus", "pids_limit") if params.get(k)]
        return f"set {', '.join(parts) or 'nothing'} on container {params.get('container')}"


class Restart(DockerAction):
    spec = ActionSpec(
        name="docker.restart",
        summary="Restart a container and wait until it runs again.",
        params=(Param("container", "string", required=True),
                Param("grace", "duration", default="10s", doc="time to stop before the engine kills it"),
                HOST_PARAM),
        idempotent=False,
        destructive=True,
        backend="docker",
        outputs=("started_at", "state"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        from pyirt.core.durations import parse_duration

        engine, client = self.connect(params, ctx)
        name = str(params["container"])
        with map_errors(engine, f"restart container {name}"):
            container = client.containers.get(name)
            ctx.checkpoint({"started_before": (container.attrs.get("State") or {}).get("StartedAt")})
            container.restart(timeout=int(parse_duration(params.get("grace") or "10s")))
            container.reload()
        state = container.attrs.get("State") or {}
        if not state.get("Running"):
            raise ActionError(f"container {name} is {state.get('Status')} after the restart", backend="docker")
        return {"container": name, "state": state.get("Status"), "started_at": state.get("StartedAt")}

    def reconcile(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any] | None:
        before = ctx.checkpointed.get("started_before")
        if before is None:
            return NOT_DONE
        engine, client = self.connect(params, ctx)
        with map_errors(engine, f"container {params['container']}"):
            state = client.containers.get(str(params["container"])).attrs.get("State") or {}
        if state.get("StartedAt") != before and state.get("Running"):
            return {"container": params["container"], "state": state.get("Status"),
                    "started_at": state.get("StartedAt")}
        return None


class Isolate(DockerAction):
    spec = ActionSpec(
        name="docker.isolate",
        summary="Cut a container off: disconnect it from its networks, or pause it. The undo reverses it.",
        params=(Param("container", "string", required=True),
                Param("mode", "string", default="disconnect", choices=("disconnect", "pause")),
                HOST_PARAM),
        idempotent=True,
        destructive=True,
        backend="docker",
        has_default_undo=True,
        outputs=("mode", "networks"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        engine, client = self.connect(params, ctx)
        name = str(params["container"])
        mode = params.get("mode") or "disconnect"
        with map_errors(engine, f"isolate container {name}"):
            container = client.containers.get(name)
            if mode == "pause":
                if (container.attrs.get("State") or {}).get("Paused"):
                    return {"container": name, "mode": mode, "networks": {}, "already": True}
                container.pause()
                return {"container": name, "mode": mode, "networks": {}}
            attached = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
            networks = dict(ctx.checkpointed.get("networks") or {})
            short_id = container.id[:12]
            for net, conf in attached.items():
                networks.setdefault(net, [a for a in (conf.get("Aliases") or []) if a != short_id])
            ctx.checkpoint({"networks": networks})
            for net in attached:
                if net in ("none", "host"):
                    continue
                client.api.disconnect_container_from_network(container.id, net)
        return {"container": name, "mode": mode, "networks": networks}

    def undo(self, params: Mapping[str, Any], output: Mapping[str, Any]) -> UndoCall | None:
        restore = {"container": params["container"], "mode": output.get("mode") or "disconnect",
                   "networks": output.get("networks") or {}}
        if params.get("host"):
            restore["host"] = params["host"]
        return UndoCall("docker.rejoin", restore)

    def describe(self, params: Mapping[str, Any]) -> str:
        how = "pause" if params.get("mode") == "pause" else "disconnect from every network"
        return f"{how}: container {params.get('container')}"


class Rejoin(DockerAction):
    spec = ActionSpec(
        name="docker.rejoin",
        summary="Undo docker.isolate: reconnect networks with their aliases, or unpause.",
        params=(Param("container", "string", required=True),
                Param("mode", "string", default="disconnect", choices=("disconnect", "pause")),
                Param("networks", "map", doc="{network: [aliases]} as docker.isolate recorded them"),
                HOST_PARAM),
        idempotent=True,
        backend="docker",
        outputs=("networks",),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        engine, client = self.connect(params, ctx)
        name = str(params["container"])
        with map_errors(engine, f"rejoin container {name}"):
            container = client.containers.get(name)
            if (params.get("mode") or "disconnect") == "pause":
                if (container.attrs.get("State") or {}).get("Paused"):
                    container.unpause()
                return {"container": name, "networks": {}}
            attached = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
            for net, aliases in (params.get("networks") or {}).items():
                if net in attached or net in ("none", "host"):
                    continue
                client.api.connect_container_to_network(container.id, net, aliases=list(aliases or []) or None)
        return {"container": name, "networks": dict(params.get("networks") or {})}

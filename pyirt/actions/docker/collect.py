"""Evidence from containers: ``docker.logs``, ``docker.stats`` and ``docker.inspect``.

Artifacts go to ``artifacts/<step>/``; outputs are small summaries that later steps (``when:``,
templates) and the report read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from pyirt.actions.api import ActionContext
from pyirt.actions.docker import targets
from pyirt.actions.docker.base import DockerAction
from pyirt.actions.docker.engine import map_errors
from pyirt.actions.docker.when import to_epoch
from pyirt.core.actionspec import ActionSpec, Param
from pyirt.errors import ActionError

EXCERPT_LINES = 5  # the same as logstream.EXCERPT_LINES, without importing it at start-up
DEFAULT_ERROR_PATTERN = r"(?i)\b(?:error|fatal|panic|exception|traceback)\b"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _file_name(name: str) -> str:
    return _SAFE_NAME.sub("_", name.lstrip("/")) or "container"


class Logs(DockerAction):
    spec = ActionSpec(
        name="docker.logs",
        summary="Save containers' logs (stdout and stderr apart) as artifacts, scrubbed of secrets.",
        params=(
            *targets.TARGET_PARAMS,
            Param("since", "any", doc="RFC 3339, a date, epoch seconds, or a duration back from now (2h)"),
            Param("until", "any", doc="same forms as since"),
            Param("tail", "int", doc="only the last N lines"),
            Param("timestamps", "bool", default=True, doc="prefix each line with the engine's timestamp"),
            Param("compress", "bool", default=False, doc="gzip the artifacts"),
            Param("redact", "bool", default=True, doc="scrub secrets (built-in patterns, config, run secrets)"),
            Param("error_pattern", "string", default=DEFAULT_ERROR_PATTERN, doc="what marks an error line"),
        ),
        idempotent=True,
        backend="docker",
        one_of=(targets.TARGET_GROUP,),
        outputs=("path", "bytes", "lines", "error_lines", "first_timestamp", "last_timestamp", "excerpt",
                 "redactions", "stdout", "stderr"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        from pyirt.actions.docker import logstream  # sockets, ssl, gzip: only when logs are collected
        from pyirt.core.redaction import ByteScrubber

        try:
            since = to_epoch(params["since"]) if params.get("since") not in (None, "") else None
            until = to_epoch(params["until"]) if params.get("until") not in (None, "") else None
            error_lines = logstream.ErrorScan(str(params.get("error_pattern") or DEFAULT_ERROR_PATTERN))
        except (ValueError, re.error) as exc:
            raise ActionError(f"docker.logs: {exc}", backend="docker", retryable=False) from None
        engine, client, containers = self.containers(params, ctx)
        folder = ctx.artifacts
        redact = params.get("redact", True) is not False
        config_patterns = _config_patterns(ctx)

        def collect(container: Any) -> dict[str, Any]:
            scrub = ByteScrubber(config_patterns, ctx.redact.values) if redact else None
            base = _file_name(container.name)
            suffix = ".log.gz" if params.get("compress") else ".log"
            out = logstream.StreamSink(folder / f"{base}{suffix}", scrub, error_lines, bool(params.get("compress")))
            err = logstream.StreamSink(folder / f"{base}.stderr{suffix}",
                                       ByteScrubber(config_patterns, ctx.redact.values) if redact else None,
                                       error_lines, bool(params.get("compress")))
            tty = bool(container.attrs.get("Config", {}).get("Tty"))
            path = logstream.logs_path(container.id, timestamps=params.get("timestamps", True) is not False,
                                       since=since, until=until, tail=params.get("tail"))
            started = time.monotonic()
            sock, first = logstream.open_stream(engine, client.api.api_version, path, engine.timeout)
            out.open()
            err.open()
            try:
                logstream.pump(sock, first, tty, out, err, ctx.cancel.is_set)
            finally:
                out.close()
                err.close()
            return _merge(out.summary(), err.summary(), time.monotonic() - started)

        return targets.for_each(containers, collect, "docker.logs")

    def describe(self, params: Mapping[str, Any]) -> str:
        who = params.get("container") or params.get("containers") or params.get("selector")
        return f"save logs of {who}" + (f" since {params['since']}" if params.get("since") else "")


def _config_patterns(ctx: ActionContext) -> list[str]:
    patterns = ctx.config.get("redact")
    return [str(p) for p in patterns] if isinstance(patterns, list) else []


def _merge(out: dict[str, Any], err: dict[str, Any], seconds: float) -> dict[str, Any]:
    firsts = [t for t in (out["first_timestamp"], err["first_timestamp"]) if t]
    lasts = [t for t in (out["last_timestamp"], err["last_timestamp"]) if t]
    return {
        "path": out["path"], "stderr_path": err["path"],
        "bytes": out["bytes"] + err["bytes"], "lines": out["lines"] + err["lines"],
        "error_lines": out["error_lines"] + err["error_lines"],
        "first_timestamp": min(firsts, key=_ts_key) if firsts else None,
        "last_timestamp": max(lasts, key=_ts_key) if lasts else None,
        "excerpt": (out["excerpt"] + err["excerpt"])[-EXCERPT_LINES:],
        "redactions": out["redactions"] + err["redactions"],
        "stdout": {k: out[k] for k in ("bytes", "lines", "error_lines")},
        "stderr": {k: err[k] for k in ("bytes", "lines", "error_lines")},
        "seconds": round(seconds, 3),
    }


def _ts_key(stamp: str) -> str:
    # RFC 3339 with nanoseconds, trailing zeros trimmed by the engine: pad the fraction to compare.
    head, _, frac = stamp.rstrip("Z").partition(".")
    return f"{head}.{frac.ljust(9, '0')}"


def _memory_used(stats: Mapping[str, Any]) -> int:
    """Memory in use as the docker CLI counts it: usage less the page cache."""
    memory = stats.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    details = memory.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in details and int(details[key]) < usage:
            return usage - int(details[key])
    return usage - int(details.get("cache") or 0) if int(details.get("cache") or 0) < usage else usage


def _cpu_percent(stats: Mapping[str, Any]) -> float | None:
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    try:
        cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        sys_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
    except (KeyError, TypeError):
        return None
    cpus = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    return round(cpu_delta / sys_delta * cpus * 100.0, 2) if sys_delta > 0 and cpu_delta >= 0 else 0.0


def _io_totals(stats: Mapping[str, Any]) -> dict[str, int]:
    net_rx = sum(int(n.get("rx_bytes") or 0) for n in (stats.get("networks") or {}).values())
    net_tx = sum(int(n.get("tx_bytes") or 0) for n in (stats.get("networks") or {}).values())
    blk = (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(int(e.get("value") or 0) for e in blk if str(e.get("op", "")).lower() == "read")
    write = sum(int(e.get("value") or 0) for e in blk if str(e.get("op", "")).lower() == "write")
    return {"net_rx_bytes": net_rx, "net_tx_bytes": net_tx, "block_read_bytes": read, "block_write_bytes": write}


class Stats(DockerAction):
    spec = ActionSpec(
        name="docker.stats",
        summary="Sample containers' memory, CPU, pids and I/O; flag those over a memory threshold.",
        params=(
            *targets.TARGET_PARAMS,
            Param("threshold", "map", doc="{memory_percent: 85}: over_threshold is true above it"),
            Param("cpu", "bool", default=False, doc="also CPU % (two samples, about a second more)"),
        ),
        idempotent=True,
        backend="docker",
        one_of=(targets.TARGET_GROUP,),
        outputs=("memory_usage", "memory_limit", "memory_percent", "pids", "cpu_percent", "over_threshold"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        engine, _, containers = self.containers(params, ctx)
        threshold = (params.get("threshold") or {}).get("memory_percent")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
            raise ActionError("docker.stats: threshold.memory_percent must be a number", retryable=False)
        want_cpu = bool(params.get("cpu"))
        folder = ctx.artifacts

        def sample(container: Any) -> dict[str, Any]:
            with map_errors(engine, f"stats of container {container.name}"):
                raw = container.stats(stream=False, one_shot=None if want_cpu else True)
            used = _memory_used(raw)
            limit = int((raw.get("memory_stats") or {}).get("limit") or 0)
            percent = round(used / limit * 100.0, 2) if limit else 0.0
            result: dict[str, Any] = {
                "memory_usage": used, "memory_limit": limit, "memory_percent": percent,
                "pids": int((raw.get("pids_stats") or {}).get("current") or 0),
                "cpu_percent": _cpu_percent(raw) if want_cpu else None,
                **_io_totals(raw),
            }
            if threshold is not None:
                result["threshold_percent"] = threshold
                result["over_threshold"] = percent > float(threshold)
            path = folder / f"{_file_name(container.name)}.stats.json"
            path.write_text(json.dumps({"summary": result, "raw": raw}, indent=2, default=str), encoding="utf-8")
            result["path"] = str(path)
            return result

        output = targets.for_each(containers, sample, "docker.stats", parallel=targets.WAIT_PARALLEL)
        if threshold is not None:
            over = [n for n, r in output["containers"].items() if r.get("over_threshold")]
            output["over_threshold"] = bool(over)
            output["over_threshold_containers"] = over
        return output

    def describe(self, params: Mapping[str, Any]) -> str:
        who = params.get("container") or params.get("containers") or params.get("selector")
        return f"sample resource use of {who}"


class Inspect(DockerAction):
    spec = ActionSpec(
        name="docker.inspect",
        summary="Save containers' configuration and image details as artifacts.",
        params=targets.TARGET_PARAMS,
        idempotent=True,
        backend="docker",
        one_of=(targets.TARGET_GROUP,),
        outputs=("image", "image_id", "state", "restart_count", "path"),
    )

    def run(self, params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
        engine, client, containers = self.containers(params, ctx)
        folder = ctx.artifacts

        def inspect(container: Any) -> dict[str, Any]:
            with map_errors(engine, f"inspect container {container.name}"):
                container.reload()
                attrs = container.attrs
                image = client.api.inspect_image(attrs.get("Image", ""))
            path = folder / f"{_file_name(container.name)}.inspect.json"
            raw = json.dumps({"container": attrs, "image": image}, indent=2, default=str).encode()
            from pyirt.core.redaction import ByteScrubber

            path.write_bytes(ByteScrubber(_config_patterns(ctx), ctx.redact.values)(raw)[0])
            state = attrs.get("State") or {}
            return {"image": (attrs.get("Config") or {}).get("Image"), "image_id": attrs.get("Image"),
                    "state": state.get("Status"), "restart_count": attrs.get("RestartCount", 0),
                    "started_at": state.get("StartedAt"), "path": str(path)}

        return targets.for_each(containers, inspect, "docker.inspect")

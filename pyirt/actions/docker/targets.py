"""Which containers a docker step acts on (``container`` | ``containers`` | ``selector``), and
running one function per container in a bounded pool with per-container failures kept apart."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pyirt.actions.docker.engine import POOL_SIZE, Engine, map_errors
from pyirt.core.actionspec import Param
from pyirt.errors import ActionError

TARGET_PARAMS = (
    Param("container", "string", doc="a container name or id"),
    Param("containers", "list", doc="several container names or ids"),
    Param("selector", "any", doc="label selector: 'app=pixashot,tier=web' or a map of labels"),
    Param("host", "string", doc="a named engine from providers.docker.hosts"),
)
TARGET_GROUP = ("container", "containers", "selector")
MAX_PARALLEL = 8
# For calls that mostly wait on the engine: a stats sample waits for the engine's next collection
# (once a second), which every container shares, so waiting for all at once costs one such wait.
WAIT_PARALLEL = POOL_SIZE


@dataclass(frozen=True)
class Missing:
    """A container named in a list that the engine does not have: it fails alone in ``for_each``."""

    name: str
    error: ActionError


def _labels(selector: Any) -> list[str]:
    if isinstance(selector, Mapping):
        return [f"{k}={v}" if v not in (None, "") else str(k) for k, v in selector.items()]
    return [part.strip() for part in str(selector).split(",") if part.strip()]


def resolve(client: Any, engine: Engine, params: Mapping[str, Any]) -> list[Any]:
    """The container objects the step names. A missing container is an error naming it; in a list of
    several, it comes back as :class:`Missing` so the others are still acted on."""
    if params.get("selector"):
        labels = _labels(params["selector"])
        with map_errors(engine, f"containers with labels {', '.join(labels)}"):
            found = client.containers.list(all=True, filters={"label": labels})
        if not found:
            raise ActionError(f"no container on docker engine {engine.host} has labels {', '.join(labels)}",
                              backend="docker", retryable=False)
        return sorted(found, key=lambda c: c.name)
    names = [params["container"]] if params.get("container") else list(params.get("containers") or [])
    if not names:
        raise ActionError("name a container, containers or a selector", backend="docker", retryable=False)
    result: list[Any] = []
    for name in names:
        try:
            with map_errors(engine, f"container {name}"):
                result.append(client.containers.get(str(name)))
        except ActionError as exc:
            if len(names) == 1:
                raise
            result.append(Missing(str(name), exc))
    return result


def for_each(containers: list[Any], work: Callable[[Any], dict[str, Any]], what: str,
             parallel: int = MAX_PARALLEL) -> dict[str, Any]:
    """``work`` on every container (at most ``parallel`` at once). One container's failure does not
    hide the others: all results are gathered, then the failures are raised together."""
    results: dict[str, dict[str, Any]] = {}
    errors: dict[str, tuple[str, bool]] = {}

    def one(container: Any) -> None:
        if isinstance(container, Missing):
            errors[container.name] = (str(container.error), container.error.retryable)
            return
        try:
            results[container.name] = work(container)
        except ActionError as exc:
            errors[container.name] = (str(exc), exc.retryable)
        except Exception as exc:
            errors[container.name] = (f"{type(exc).__name__}: {exc}", True)

    if len(containers) == 1:
        one(containers[0])
    else:
        workers = min(parallel, len(containers))
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="irt-docker") as pool:
            list(pool.map(one, containers))
    if errors:
        if len(containers) == 1:
            text, retryable = next(iter(errors.values()))
            raise ActionError(text, backend="docker", retryable=retryable)
        detail = "; ".join(f"{name}: {text}" for name, (text, _) in sorted(errors.items()))
        ok = f" ({len(results)} other(s) done)" if results else ""
        raise ActionError(f"{what} failed for {len(errors)} container(s){ok}: {detail}", backend="docker",
                          retryable=all(r for _, r in errors.values()))
    ordered = {c.name: results[c.name] for c in containers}  # no Missing here: it raised above
    if len(ordered) == 1:
        (name, only), = ordered.items()
        return {**only, "container": name, "containers": ordered}
    return {"containers": ordered}

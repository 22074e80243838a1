"""The simulated world of a drill: every simulator started on loopback, and the in-memory config
that points the actions at them (the user's irt.yaml is never read).

Started: the Docker engine (on a unix socket in the drill's temp folder), Cloud Run, the GCP
Secret Manager and (when the world has Azure secrets) Key Vault simulators when they ship with
this pyirt, and the notification sinks, which also serve each Cloud Run service's health endpoint
(503 while a revision marked ``healthy: false`` takes traffic).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyirt.drill.scenario import FaultSpec, Inject, Scenario
from pyirt.engine.config import Config
from pyirt.sim.cloudrun import CloudRunSimulator
from pyirt.sim.docker_engine import DockerEngineSimulator
from pyirt.sim.sinks import NotificationSinks
from pyirt.sim.world import secrets_available, split_health

CLOUDRUN_SETTINGS = {"credentials": "anonymous", "poll_interval": 0.05, "timeout": 10, "max_retry_after": 10}


class Simulators:
    def __init__(self, scenario: Scenario, folder: Path) -> None:
        self.scenario = scenario
        self.folder = folder
        world, self.unhealthy = split_health(scenario.world)
        self.world = world
        self.sinks = NotificationSinks.from_world(world)
        self.docker = DockerEngineSimulator(world, socket_path=folder / "docker.sock")
        self.cloudrun: CloudRunSimulator | None = None
        self.secretmanager: Any = None
        self.keyvault: Any = None
        self.notes: list[str] = []

    def start(self) -> None:
        self.sinks.start()
        self.sinks.route("/run", self._health)
        self.cloudrun = CloudRunSimulator(self._cloudrun_world())
        self.cloudrun.start()
        self.docker.start()
        providers = {str(e.get("provider")) for e in self.world.get("secrets") or [] if isinstance(e, Mapping)}
        if secrets_available("gcp"):
            module = importlib.import_module("pyirt.sim.secretmanager")
            self.secretmanager = module.SecretManagerSimulator(self.world)
            self.secretmanager.start()
        elif "gcp" in providers:
            self.notes.append("no GCP Secret Manager simulator in this installation: secrets steps cannot run")
        if "azure" in providers and secrets_available("azure"):
            module = importlib.import_module("pyirt.sim.keyvault")
            self.keyvault = module.KeyVaultSimulator(self.world, cert_dir=self.folder / "keyvault")
            self.keyvault.start()

    def stop(self) -> None:
        for sim in (self.keyvault, self.secretmanager, self.docker, self.cloudrun, self.sinks):
            if sim is not None:
                with contextlib.suppress(Exception):
                    sim.stop()

    def pull_the_plug(self) -> None:
        """The drill ran out of time: every simulator stops, so hung calls fail and the run ends."""
        self.notes.append(f"the drill was stopped after its timeout ({self.scenario.timeout:g}s)")
        self.stop()

    def config(self) -> Config:
        """irt.yaml's equivalent for the drill, in memory."""
        assert self.cloudrun is not None
        providers: dict[str, Any] = {
            "docker": self.docker.provider(),
            "cloudrun": {"endpoint": self.cloudrun.url, **CLOUDRUN_SETTINGS},
            "local_secrets": {"dir": str(self.folder / "local-secrets")},
        }
        if self.secretmanager is not None:
            providers["gcp_secrets"] = {**self.secretmanager.provider(), "timeout": 10}
        if self.keyvault is not None:
            providers["azure"] = {**self.keyvault.provider(), "timeout": 10}
        raw: dict[str, Any] = {"providers": providers, "channels": self.sinks.channel_config(self.folder / "channels"),
                               "policy": {"approval": "interactive"}}
        if self.scenario.notify:
            raw["notify"] = dict(self.scenario.notify)
        if self.scenario.redact:
            raw["redact"] = list(self.scenario.redact)
        if self.scenario.plugins:
            raw["plugins"] = list(self.scenario.plugins)
        return Config(path=f"(drill {self.scenario.name})", raw=raw, redact=self.scenario.redact,
                      plugins=self.scenario.plugins, approval="interactive")

    # -- changing the world ---------------------------------------------------------------------------
    def apply(self, inject: Inject) -> None:
        change = inject.change
        world = self.docker.world
        if inject.kind == "container":
            if "memory_usage" in change:
                world.set_memory(inject.target, change["memory_usage"], over=float(change.get("over") or 0))
            elif "logs" in change:
                world.set_logs(inject.target, change["logs"])
            elif "state" in change:
                world.set_state(inject.target, str(change["state"]))
            else:
                world.emit(inject.target, str(change["emit"]), stream=str(change.get("stream") or "stdout"))
        elif inject.kind == "cloudrun":
            self.set_traffic(inject.target, change.get("project"), change.get("region"), change["traffic"])

    def set_traffic(self, service: str, project: str | None, region: str | None,
                    traffic: list[Mapping[str, Any]]) -> None:
        """A new split written behind the responders' back (a deploy, another operator); every tag
        not named in it stays, at 0%."""
        assert self.cloudrun is not None
        world = self.cloudrun.world
        key = self._service_key(service, project, region)
        current = world.snapshot(*key)
        entries = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST" if t.get("latest") else
                    "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": t.get("revision") or "",
                    "percent": int(t.get("percent") or 0), **({"tag": t["tag"]} if t.get("tag") else {})}
                   for t in traffic]
        named = {t.get("tag") for t in traffic if t.get("tag")}
        for entry in current.get("traffic", []):
            if entry.get("tag") and entry["tag"] not in named:
                entries.append({"type": entry.get("type"), "revision": entry.get("revision", ""), "percent": 0,
                                "tag": entry["tag"]})
        world.update_service(*key, {"traffic": entries}, ["traffic"])

    def inject_fault(self, fault: FaultSpec) -> None:
        fields = dict(fault.fields)
        if fault.target == "docker":
            self.docker.inject(fault.op, **fields)
        elif fault.target == "cloudrun":
            assert self.cloudrun is not None
            self.cloudrun.inject(fault.op, **fields)
        elif fault.target == "channel":
            self.sinks.inject(fault.op, **fields)
        else:
            provider = str(fields.pop("provider", "gcp"))
            sim = self.keyvault if provider == "azure" else self.secretmanager
            if sim is None:
                raise RuntimeError(f"no {provider} secrets simulator is running")
            sim.inject(fault.op, **fields)

    # -- reading the world -------------------------------------------------------------------------
    def _service_key(self, service: str, project: str | None, region: str | None) -> tuple[str, str, str]:
        assert self.cloudrun is not None
        keys = [k for k in self.cloudrun.world.service_keys() if k[2] == service and
                (project is None or k[0] == project) and (region is None or k[1] == region)]
        if len(keys) != 1:
            raise LookupError(f"Cloud Run service {service}: {'not in the world' if not keys else 'ambiguous'}"
                              f"{'' if not keys else ': name its project and region'}")
        return keys[0]

    def service(self, service: str, project: str | None = None, region: str | None = None) -> dict[str, Any]:
        assert self.cloudrun is not None
        return self.cloudrun.world.snapshot(*self._service_key(service, project, region))

    def secret_versions(self, provider: str, name: str, project: str | None) -> list[dict[str, Any]]:
        """Every version of a secret as {id, state, created}, oldest first."""
        if provider == "azure":
            if self.keyvault is None:
                raise LookupError("no Azure Key Vault simulator is running")
            return [{"id": v["id"], "state": "enabled" if v["enabled"] else "disabled", "created": v["created"]}
                    for v in self.keyvault.world.versions(name)]
        if self.secretmanager is None:
            raise LookupError("no GCP Secret Manager simulator in this installation")
        if not project:
            known: list[tuple[str, str]] = self.secretmanager.world.keys()
            projects = [p for p, n in known if n == name]
            if len(projects) != 1:
                raise LookupError(f"secret {name}: name its project")
            project = projects[0]
        return [{"id": str(v["number"]), "state": str(v["state"]).lower(), "created": v["created"]}
                for v in self.secretmanager.world.versions(project, name)]

    def _cloudrun_world(self) -> dict[str, Any]:
        """The Cloud Run section with each service's URL on the sinks' health endpoint."""
        services = []
        for svc in self.world.get("cloudrun") or []:
            if isinstance(svc, Mapping) and not svc.get("url"):
                region = svc.get("region") or "us-central1"
                svc = {**svc, "url": self.sinks.url(f"/run/{svc.get('project')}/{region}/{svc.get('service')}")}
            services.append(svc)
        return {"cloudrun": services}

    def _health(self, method: str, target: str, headers: Mapping[str, str], body: bytes,
                ) -> tuple[int, dict[str, str], bytes]:
        parts = target.split("?", 1)[0].strip("/").split("/")
        text = {"Content-Type": "text/plain; charset=utf-8"}
        if len(parts) != 4:
            return 404, text, b"not found"
        _, project, region, service = parts
        try:
            doc = self.service(service, project, region)
        except LookupError:
            return 404, text, b"no such service"
        serving = {s.get("revision") for s in doc.get("trafficStatuses", []) if s.get("percent")}
        sick = serving & self.unhealthy.get((project, region, service), set())
        if sick:
            return 503, text, f"upstream connect error: revision {', '.join(sorted(sick))} is unhealthy".encode()
        return 200, text, b"ok"

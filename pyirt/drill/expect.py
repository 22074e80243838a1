"""Scoring: each expectation against the final world and the journal, with the evidence.

World-state expectations (``traffic``, ``container``, ``secret``) read the simulators; the
monitor has sampled them during the run, so ``within`` is the time from the incident's opening
to when the condition was met and stayed met. ``notified`` reads what the sinks accepted,
``step``, ``no_failed_steps`` and ``outcome`` the incident's state folded from its journal,
``report`` the incident folder. A verdict always says why, in a line a person can check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyirt.core.durations import format_duration
from pyirt.core.journal import IncidentState
from pyirt.drill.criteria import Compare, Expectation
from pyirt.drill.sims import Simulators
from pyirt.sim.docker_model import EngineError


@dataclass(frozen=True)
class Verdict:
    name: str
    kind: str
    passed: bool
    evidence: str
    met_at: float | None = None  # seconds after the incident opened
    within: float | None = None

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "evidence": self.evidence,
                "met_at": None if self.met_at is None else round(self.met_at, 3), "within": self.within}


@dataclass
class Facts:
    sims: Simulators
    t0: float
    opened: float | None
    ended: float
    state: IncidentState
    folder: Path | None
    since: Mapping[str, float | None] = field(default_factory=dict)

    @property
    def origin(self) -> float:
        return self.opened if self.opened is not None else self.t0

    def t(self, epoch: float) -> str:
        return f"t+{format_duration(max(0.0, epoch - self.t0))}"


def epoch(stamp: str) -> float | None:
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def size(value: float) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}".replace(".00 ", " ")
    return f"{int(value)} B"


# -- the world ------------------------------------------------------------------------------------------
def world_check(expectation: Expectation, sims: Simulators, t0: float) -> tuple[bool, str]:
    """Whether a world-state expectation holds now, and what the world shows."""
    spec = expectation.spec
    try:
        if expectation.kind == "traffic":
            return _traffic(spec, sims)
        if expectation.kind == "container":
            return _container(spec, sims, t0)
        return _secret(spec, sims, t0)
    except (LookupError, EngineError, RuntimeError) as exc:
        return False, str(exc)


def _traffic(spec: Mapping[str, Any], sims: Simulators) -> tuple[bool, str]:
    doc = sims.service(str(spec["service"]), spec.get("project"), spec.get("region"))
    statuses = doc.get("trafficStatuses", [])
    tags = {s["tag"]: s.get("revision") for s in statuses if s.get("tag")}
    tags.update({t["tag"]: t.get("revision") for t in doc.get("traffic", []) if t.get("tag") and t["tag"] not in tags})
    target = str(spec["to"])
    revision = tags.get(target) or target
    label = f"{revision} (tag {target})" if target in tags else revision
    served = sum(int(s.get("percent") or 0) for s in statuses if s.get("revision") == revision)
    serving = ", ".join(f"{s.get('revision')} {s.get('percent')}%" for s in statuses if s.get("percent")) or "nothing"
    wanted = int(spec.get("percent", 100))
    if served == wanted:
        return True, f"{label} serves {served}%"
    return False, f"{label} serves {served}%, not {wanted}% (serving: {serving})"


def _container(spec: Mapping[str, Any], sims: Simulators, t0: float) -> tuple[bool, str]:
    snap = sims.docker.world.snapshot(str(spec["name"]))
    host, state = snap["HostConfig"], snap["State"]
    limit = host["Memory"] or sims.docker.world.host_memory
    usage = snap["memory_usage"]
    facts: dict[str, Any] = {
        "running": state["Running"], "paused": state["Paused"], "state": state["Status"],
        "memory_limit": host["Memory"], "memory_usage": usage, "memory_percent": round(usage / limit * 100, 2),
        "restarted": (epoch(state["StartedAt"]) or 0) >= t0,
        "connected": any(n not in ("none", "host") for n in snap["NetworkSettings"]["Networks"]),
        "networks": sorted(snap["NetworkSettings"]["Networks"]),
    }
    ok, parts = True, []
    for key, wanted in spec.items():
        if key == "name":
            continue
        actual = facts[key]
        if isinstance(wanted, Compare):
            good = wanted(float(actual))
            shown = size(actual) if key in ("memory_limit", "memory_usage") else f"{actual:g}"
            parts.append(f"{key} {shown} ({wanted} {'✓' if good else '✗'})")
        else:
            good = sorted(map(str, wanted)) == actual if key == "networks" else actual == wanted
            parts.append(f"{key} {actual} ({'✓' if good else f'expected {wanted}'})")
        ok = ok and good
    return ok, f"{spec['name']}: " + "; ".join(parts)


def _secret(spec: Mapping[str, Any], sims: Simulators, t0: float) -> tuple[bool, str]:
    provider = str(spec.get("provider") or "gcp")
    versions = sims.secret_versions(provider, str(spec["name"]), spec.get("project"))
    if not versions:
        return False, f"secret {spec['name']} has no versions"
    new = [v for v in versions if v["created"] >= t0 - 0.5]
    old = [v for v in versions if v["created"] < t0 - 0.5]
    newest = max(versions, key=lambda v: v["created"])
    ok, parts = True, []
    if "rotated" in spec:
        rotated = bool(new) and newest in new and newest["state"] == "enabled"
        good = rotated == bool(spec["rotated"])
        ok = ok and good
        if new:
            parts.append(f"new version {newest['id']} ({newest['state']}, made at t+"
                         f"{format_duration(max(0.0, newest['created'] - t0))}) is the newest")
        else:
            parts.append(f"no new version (newest: {newest['id']}, {newest['state']})")
    if spec.get("previous"):
        wanted = spec["previous"]
        states = {"revoked": ("disabled", "destroyed")}.get(wanted, (wanted,))
        wrong = [v for v in old if v["state"] not in states]
        ok = ok and not wrong
        listing = ", ".join(f"{v['id']} {v['state']}" for v in old) or "none"
        parts.append(f"older versions: {listing}" + (f" (expected {wanted})" if wrong else ""))
    if isinstance(spec.get("versions"), Compare):
        good = spec["versions"](float(len(versions)))
        ok = ok and good
        parts.append(f"{len(versions)} versions ({spec['versions']} {'✓' if good else '✗'})")
    return ok, f"secret {spec['name']}: " + "; ".join(parts)


# -- verdicts --------------------------------------------------------------------------------------
def evaluate(expectations: Sequence[Expectation], facts: Facts) -> list[Verdict]:
    return [_evaluate(e, facts) for e in expectations]


def _evaluate(expectation: Expectation, facts: Facts) -> Verdict:
    kind, spec = expectation.kind, expectation.spec
    if expectation.world_state:
        ok, evidence = world_check(expectation, facts.sims, facts.t0)
        since = facts.since.get(expectation.path)
        met = (since if since is not None else facts.ended) if ok else None
        return _timed(expectation, ok, evidence, met, facts)
    if kind == "notified":
        return _notified(expectation, facts)
    if kind == "step":
        step = facts.state.step(str(spec["id"]))
        wanted = str(spec.get("status") or "succeeded")
        ok = step.status == wanted
        detail = {"succeeded": "", "failed": f": {step.error}", "skipped": f": {step.skip_reason}"}.get(step.status, "")
        evidence = f"step {step.id} {step.status if step.status != 'pending' else 'never ran'}{detail}"
        if step.attempts:
            evidence += f" after {step.attempts} attempt{'s' if step.attempts != 1 else ''}"
        if isinstance(spec.get("attempts"), Compare):
            good = spec["attempts"](float(step.attempts))
            ok = ok and good
            evidence += f" ({spec['attempts']} {'✓' if good else '✗'})"
        ended = epoch(step.ended_at)
        return _timed(expectation, ok, evidence, ended if ok else None, facts)
    if kind == "no_failed_steps":
        failed = [s for s in facts.state.steps.values() if s.status == "failed"]
        undone = [s for s in facts.state.steps.values() if s.undo == "failed"]
        if not failed and not undone:
            return Verdict(expectation.name, kind, True, f"none of {len(facts.state.steps)} steps failed")
        lines = [f"{s.id} ({s.action}): {s.error}" for s in failed]
        lines += [f"undo of {s.id}: {s.undo_error}" for s in undone]
        return Verdict(expectation.name, kind, False, "failed: " + "; ".join(lines))
    if kind == "outcome":
        outcome = facts.state.outcome or (f"{facts.state.status} ({facts.state.pause_reason})"
                                          if facts.state.status == "paused" else facts.state.status or "never opened")
        ok = facts.state.outcome in spec["outcomes"]
        return Verdict(expectation.name, kind, ok, f"the incident closed {outcome}" if facts.state.outcome
                       else f"the incident is {outcome}")
    formats = list(spec["formats"])
    if facts.folder is None:
        return Verdict(expectation.name, kind, False, "no incident folder")
    present = [f for f in formats if (facts.folder / f"report.{f}").is_file()
               and (facts.folder / f"report.{f}").stat().st_size > 0]
    missing = [f"report.{f}" for f in formats if f not in present]
    if missing:
        return Verdict(expectation.name, kind, False, f"missing in {facts.folder}: {', '.join(missing)}")
    return Verdict(expectation.name, kind, True, ", ".join(f"report.{f}" for f in present) + f" in {facts.folder}")


def _timed(expectation: Expectation, ok: bool, evidence: str, met: float | None, facts: Facts) -> Verdict:
    after = None if met is None else max(0.0, met - facts.origin)
    if ok and met is not None:
        evidence += f", at {facts.t(met)}"
    passed = ok
    if ok and expectation.within is not None and after is not None:
        if after > expectation.within:
            passed = False
            evidence += (f" ({format_duration(after)} after the incident opened: later than "
                         f"{format_duration(expectation.within)})")
        else:
            evidence += f" (within {format_duration(expectation.within)})"
    return Verdict(expectation.name, expectation.kind, passed, evidence, after, expectation.within)


def _notified(expectation: Expectation, facts: Facts) -> Verdict:
    spec = expectation.spec
    channels = spec.get("channel")
    names = [channels] if isinstance(channels, str) else list(channels or [])
    sinks = facts.sims.sinks

    def wanted(channel: str, kind: str) -> bool:
        return (not names or channel in names) and (not spec.get("kind") or kind == spec["kind"])

    arrived = [d for d in sinks.deliveries() if wanted(d.channel, d.kind)]
    contains = str(spec.get("contains") or "").lower()
    accepted = [d for d in arrived if d.accepted and contains in d.text.lower()]
    count: Compare = spec["count"]
    ok = count(float(len(accepted)))
    who = ", ".join(names) or spec.get("kind") or "any channel"
    refused = [d for d in arrived if not d.accepted]
    why = ""
    if refused:
        reasons = sorted({f"{d.status} {'; '.join(d.problems)}".strip() for d in refused})
        why = f"; {len(refused)} refused by {', '.join(sorted({d.channel for d in refused}))} ({', '.join(reasons)})"
    if not accepted:
        base = f"nothing {'matching ' + repr(spec['contains']) + ' ' if contains else ''}accepted by {who}"
        return _timed(expectation, ok, base + why, None, facts)
    first = accepted[0]
    text = " ".join(first.text.split())
    quoted = text[:80] + ("…" if len(text) > 80 else "")
    evidence = (f"{len(accepted)} accepted ({count}) by {', '.join(sorted({d.channel for d in accepted}))}; "
                f"first by {first.channel} ({first.kind}): {quoted!r}{why}")
    index = min(len(accepted), max(1, int(count.value))) - 1 if count.op in (">=", "==") else 0
    return _timed(expectation, ok, evidence, accepted[index].at if ok else None, facts)


def time_to_mitigate(verdicts: Sequence[Verdict]) -> float | None:
    """From the incident's opening to when every world-state expectation was met (None when one
    was not, or there is none)."""
    world = [v for v in verdicts if v.kind in ("traffic", "container", "secret")]
    if not world or not all(v.passed and v.met_at is not None for v in world):
        return None
    return max(v.met_at for v in world if v.met_at is not None)

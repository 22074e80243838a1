"""The result of a drill: each expectation passed or failed with its evidence, the time to
mitigate, the timeline of injects and what the sinks received. Shown on the console, and written
next to the incident's report as ``drill.md`` and ``drill.json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyirt.core.durations import format_duration
from pyirt.drill.expect import Verdict
from pyirt.drill.timeline import Event
from pyirt.report.render import write_atomic
from pyirt.sim.sinks import Delivery


@dataclass
class Scorecard:
    scenario: str
    scenario_file: str
    runbook: str
    incident: str
    folder: Path | None
    outcome: str
    verdicts: list[Verdict]
    time_to_mitigate: float | None
    duration: float
    t0: float
    opened: float | None = None
    events: Sequence[Event] = ()
    deliveries: Sequence[Delivery] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def score(self) -> str:
        return f"{sum(v.passed for v in self.verdicts)}/{len(self.verdicts)}"

    @property
    def reports(self) -> list[Path]:
        if self.folder is None:
            return []
        found = [self.folder / f"report.{f}" for f in ("md", "html", "json", "pdf")]
        return [p for p in found if p.is_file()]

    def _ttm(self) -> str:
        if self.time_to_mitigate is not None:
            return f"{format_duration(self.time_to_mitigate)} from the incident's opening"
        world = [v for v in self.verdicts if v.kind in ("traffic", "container", "secret")]
        return "not mitigated" if world else "n/a (no expectation on the world's state)"

    # -- views ----------------------------------------------------------------------------------------
    def text(self) -> str:
        lines = [f"drill {self.scenario}: {'PASSED' if self.passed else 'FAILED'} ({self.score} expectations met)",
                 f"  runbook {self.runbook} -> incident {self.incident or '(none)'}: {self.outcome}"]
        width = max((len(v.name) for v in self.verdicts), default=10)
        for v in self.verdicts:
            lines.append(f"  {'✓' if v.passed else '✗'} {v.name:<{width}}  {v.evidence}")
        lines.append(f"  time to mitigate: {self._ttm()}; drill took {format_duration(self.duration)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def view(self) -> dict[str, Any]:
        return {
            "type": "drill", "scenario": self.scenario, "scenario_file": self.scenario_file, "runbook": self.runbook,
            "incident": self.incident, "folder": str(self.folder) if self.folder else None, "outcome": self.outcome,
            "passed": self.passed, "score": self.score,
            "expectations": [v.view() for v in self.verdicts],
            "time_to_mitigate": None if self.time_to_mitigate is None else round(self.time_to_mitigate, 3),
            "duration": round(self.duration, 3),
            "timeline": [{"at": e.at, "kind": e.kind, "what": e.text,
                          "applied": None if e.applied is None else round(e.applied - self.t0, 3), "error": e.error}
                         for e in self.events],
            "notifications": [d.view(self.t0) for d in self.deliveries],
            "reports": [str(p) for p in self.reports],
            "drill_report": [str(p) for p in self.drill_files()],
            "notes": list(self.notes),
        }

    def markdown(self) -> str:
        out = [f"# Drill: {self.scenario}", "",
               f"**{'PASSED' if self.passed else 'FAILED'}**: {self.score} expectations met. "
               f"Time to mitigate: {self._ttm()}.", "",
               "| | |", "|---|---|",
               f"| Scenario | `{self.scenario_file}` |", f"| Runbook | `{self.runbook}` |",
               f"| Incident | `{self.incident or '(none)'}` ({self.outcome}) |",
               f"| Duration | {format_duration(self.duration)} |", "",
               "## Expectations", "", "| | Expectation | Evidence |", "|---|---|---|"]
        out += [f"| {'✓' if v.passed else '✗'} | {_cell(v.name)} | {_cell(v.evidence)} |" for v in self.verdicts]
        out += ["", "## Timeline", "", "Times from the drill's start.", ""]
        rows = [(e.applied - self.t0 if e.applied else e.at, f"{e.kind}: {e.text}" + (f" (failed: {e.error})"
                                                                                       if e.error else ""))
                for e in self.events]
        if self.opened:
            rows.append((self.opened - self.t0, f"incident {self.incident} opened"))
        rows += [(d.at - self.t0, f"{d.channel} ({d.kind}) {'accepted' if d.accepted else 'refused'} a message"
                  + (f": {_cell(' '.join(d.text.split())[:80])}" if d.text else f" ({d.status})"))
                 for d in self.deliveries]
        out += [f"- t+{format_duration(max(0.0, at))}: {text}" for at, text in sorted(rows, key=lambda r: r[0])]
        if self.reports:
            out += ["", "## The incident report", ""] + [f"- [{p.name}]({p.name})" for p in self.reports]
        if self.notes:
            out += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"

    def drill_files(self) -> list[Path]:
        return [self.folder / "drill.md", self.folder / "drill.json"] if self.folder else []

    def write(self) -> list[Path]:
        """``drill.md`` and ``drill.json`` in the incident folder (nothing without one)."""
        if self.folder is None or not self.folder.is_dir():
            return []
        md, js = self.drill_files()
        write_atomic(md, self.markdown())
        write_atomic(js, json.dumps(self.view(), indent=2, ensure_ascii=False) + "\n")
        return [md, js]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

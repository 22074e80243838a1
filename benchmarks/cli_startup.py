"""Start-up cost of ``irt --help`` against ``python -c "import typer"`` on the same interpreter.

Goal (from the issue): ``irt --help`` takes at most 1.3x the wall time of ``import typer``.
The commands run interleaved (so drift in machine load hits both alike), after a warm-up that
fills the OS page cache and the ``__pycache__`` folders. ``python -c pass`` is measured too, as
the floor every Python process pays. When the goal is missed, ``python -X importtime`` shows which
modules ``irt --help`` imports beyond ``typer`` and what they cost.

This script reports; it does not assert. It exits 0 unless a command itself fails.

    .venv/bin/python benchmarks/cli_startup.py [--reps 30] [--goal 1.3] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

WARMUP = 3


def find_irt(python: Path) -> Path:
    """The ``irt`` console script installed beside ``python`` (the venv's), else the one on PATH."""
    beside = python.parent / "irt"
    if beside.is_file():
        return beside
    found = shutil.which("irt")
    if not found:
        sys.exit("cli_startup: no irt script beside the interpreter nor on PATH; "
                 "run with the venv's python (.venv/bin/python)")
    return Path(found)


def clean_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE", "IRT_DEBUG"):
        env.pop(name, None)
    return env


def run_once(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        sys.exit(f"cli_startup: {' '.join(cmd)} exited {proc.returncode}")
    return elapsed


def p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10, method="inclusive")[8]


def importtime(cmd: list[str], env: dict[str, str], runs: int = 3) -> dict[str, tuple[int, int, int]]:
    """module -> (self us, cumulative us, nesting depth), the minimum over ``runs`` runs."""
    best: dict[str, tuple[int, int, int]] = {}
    for _ in range(runs):
        proc = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=env, check=False)
        for line in proc.stderr.decode(errors="replace").splitlines():
            if not line.startswith("import time:") or "[us]" in line:
                continue
            try:
                self_us, cumulative, name = line[len("import time:"):].split("|", 2)
            except ValueError:
                continue
            depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
            module = name.strip()
            row = (int(self_us), int(cumulative), depth)
            old = best.get(module)
            best[module] = row if old is None else (min(old[0], row[0]), min(old[1], row[1]), row[2])
    return best


def report_importtime(python: Path, irt: Path, env: dict[str, str], top: int = 15) -> None:
    irt_mods = importtime([str(python), str(irt), "--help"], env)
    typer_mods = importtime([str(python), "-c", "import typer"], env)
    extra = {m: v for m, v in irt_mods.items() if m not in typer_mods}
    extra_self = sum(v[0] for v in extra.values())
    print()
    print(f"python -X importtime, minimum of 3 runs: irt --help imports {len(irt_mods)} modules, "
          f"import typer {len(typer_mods)}; {len(extra)} extra modules cost {extra_self / 1000:.1f} ms (self time)")
    print()
    print("top-level imports of irt --help, by cumulative time:")
    print(f"  {'module':<40} {'cumulative ms':>13} {'self ms':>8}  also in import typer")
    roots = sorted(((m, v) for m, v in irt_mods.items() if v[2] == 0), key=lambda mv: -mv[1][1])
    for module, (self_us, cum_us, _) in roots[:top]:
        print(f"  {module:<40} {cum_us / 1000:>13.2f} {self_us / 1000:>8.2f}  "
              f"{'yes' if module in typer_mods else 'no'}")
    print()
    print("modules imported by irt --help but not by import typer, by self time:")
    print(f"  {'module':<40} {'self ms':>8} {'cumulative ms':>13}")
    for module, (self_us, cum_us, _) in sorted(extra.items(), key=lambda mv: -mv[1][0])[:top]:
        print(f"  {module:<40} {self_us / 1000:>8.2f} {cum_us / 1000:>13.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=30, help="timed runs of each command (default 30)")
    parser.add_argument("--goal", type=float, default=1.3, help="target ratio irt/typer (default 1.3)")
    parser.add_argument("--importtime", action="store_true", help="show import offenders even when the goal is met")
    args = parser.parse_args()
    if args.reps < 2:
        parser.error("--reps must be at least 2")

    python = Path(sys.executable)
    irt = find_irt(python)
    env = clean_env()
    commands = {
        "python -c pass": [str(python), "-c", "pass"],
        "python -c 'import typer'": [str(python), "-c", "import typer"],
        "irt --help": [str(irt), "--help"],
    }
    for cmd in commands.values():
        for _ in range(WARMUP):
            run_once(cmd, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.reps):  # interleaved: one of each per round
        for name, cmd in commands.items():
            samples[name].append(run_once(cmd, env))

    print(f"interpreter: {python} (Python {sys.version.split()[0]})")
    print(f"irt script:  {irt}")
    try:
        one, five, _ = os.getloadavg()
        print(f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs; "
              "other work on the machine inflates and scatters these figures")
    except OSError:
        pass
    print(f"{args.reps} interleaved runs of each command after {WARMUP} warm-up runs; wall time per process")
    print()
    print(f"  {'command':<26} {'median ms':>10} {'p90 ms':>9} {'min ms':>9}")
    for name, values in samples.items():
        print(f"  {name:<26} {statistics.median(values) * 1000:>10.1f} {p90(values) * 1000:>9.1f} "
              f"{min(values) * 1000:>9.1f}")
    bare = statistics.median(samples["python -c pass"])
    typer_med = statistics.median(samples["python -c 'import typer'"])
    irt_med = statistics.median(samples["irt --help"])
    ratio = irt_med / typer_med
    ratio_p90 = p90(samples["irt --help"]) / p90(samples["python -c 'import typer'"])
    print()
    print(f"ratio irt --help / import typer: {ratio:.2f}x median, {ratio_p90:.2f}x p90 "
          f"(goal <= {args.goal:.2f}x): {'MET' if ratio <= args.goal else 'MISSED'}")
    if typer_med > bare:
        print(f"above the bare interpreter ({bare * 1000:.1f} ms): import typer +{(typer_med - bare) * 1000:.1f} ms, "
              f"irt --help +{(irt_med - bare) * 1000:.1f} ms ({(irt_med - bare) / (typer_med - bare):.2f}x)")
    if ratio > args.goal or args.importtime:
        report_importtime(python, irt, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())

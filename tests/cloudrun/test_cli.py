"""The command line: ``irt plan`` shows the split a step would write, ``irt sim cloudrun`` serves a
World file until SIGTERM, and ``irt --help`` does not pay for the Google SDK."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.cloudrun.conftest import CLOUDRUN, RUNBOOKS, SERVICE
from tests.helpers import REPO, clean_env, irt


def test_plan_shows_the_exact_split_each_step_would_write(tmp_path: Path) -> None:
    done = irt("plan", str(RUNBOOKS / "set-traffic-then-fail.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ("Cloud Run service demo/us-central1/pixashot: write traffic [stable 90%, pixashot-00042-bad 10%]; "
            "existing tags kept at 0%") in done.stdout
    assert ("write traffic [the newest Ready revision older than the one serving the most traffic: 100%] plus "
            "every existing tag kept at 0%; refused unless that revision is Ready") in done.stdout
    shipped = irt("plan", str(REPO / "runbooks" / "cloudrun-bad-deploy.yaml"), "-i", "project=demo", "--json",
                  cwd=tmp_path)
    steps = {s["id"]: s for s in json.loads(shipped.stdout)["steps"]}
    assert "[the revision tagged stable (or named stable): 100%]" in steps["rollback"]["describe"]
    assert steps["rollback"]["approval"] and steps["rollback"]["destructive"]


def test_irt_sim_cloudrun_serves_the_world_until_sigterm(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("irt")
    process = subprocess.Popen([str(script), "sim", "cloudrun", "--world", str(CLOUDRUN / "world.yaml"),
                                "--port", "0", "--quiet"], cwd=tmp_path, env=clean_env(), text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "services: demo/us-central1/pixashot, demo/us-central1/thumbnails" in banner, banner
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/v2/{SERVICE}", timeout=5) as reply:  # noqa: S310 (loopback)
            assert json.loads(reply.read())["latestReadyRevision"].endswith("pixashot-00042-bad")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()


def test_irt_sim_cloudrun_names_the_path_of_a_bad_world(tmp_path: Path) -> None:
    world = tmp_path / "world.yaml"
    world.write_text("kind: World\ncloudrun:\n  - {project: p, service: s, revisions: []}\n", encoding="utf-8")
    done = irt("sim", "cloudrun", "--world", str(world), "--port", "0", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"irt: error: {world}: cloudrun[0].revisions: a non-empty list is required"


def test_help_does_not_import_the_google_sdk(tmp_path: Path) -> None:
    for args in (["--help"], ["sim", "--help"], ["sim", "cloudrun", "--help"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c",
                               f"from pyirt.cli import run; raise SystemExit(run({args!r}))"],
                              cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        imported = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
        assert not [m for m in imported if m.startswith(("google", "grpc", "requests", "pyirt.sim"))], args

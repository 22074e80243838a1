"""PDF through headless Chromium (Debian's ``chromium``), when it is installed.

Chromium runs with a throw-away profile, no sandbox (it often runs as root in containers), no GPU
and without its background network traffic (updates, sync, metrics): it opens one local file and
prints it. ``$IRT_CHROMIUM`` names another binary.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pyirt.errors import EXIT_ENVIRONMENT, IrtError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")
TIMEOUT = 90.0
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability", "--disable-breakpad",
    "--metrics-recording-only", "--no-first-run", "--no-default-browser-check", "--disable-quic",
    "--mute-audio", "--hide-scrollbars",
)


class ChromiumError(IrtError):
    exit_code = EXIT_ENVIRONMENT


def find_chromium() -> str | None:
    """The Chromium binary: ``$IRT_CHROMIUM``, else the first of :data:`CANDIDATES` on PATH."""
    named = os.environ.get("IRT_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    binary = find_chromium()
    if binary is None:
        raise ChromiumError("PDF reports need headless Chromium, which is not installed: install Debian's "
                              "chromium (apt-get install chromium) or set IRT_CHROMIUM to a Chromium binary; "
                              "the Markdown and HTML reports need nothing")
    return binary


def command(binary: str, profile: Path, *args: str) -> list[str]:
    """A headless Chromium command line with a private profile (``args`` add the task)."""
    return [binary, *FLAGS, f"--user-data-dir={profile}", *args]


def run(args: list[str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args`` (after the binary and the common flags)."""
    binary = require_chromium()
    with tempfile.TemporaryDirectory(prefix="irt-chromium-") as profile:
        try:
            return subprocess.run(command(binary, Path(profile), *args), capture_output=True, text=True,
                                  timeout=timeout, check=False, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise ChromiumError(f"headless Chromium ({binary}) did not finish within {timeout:.0f} s") from None


def print_pdf(html: Path, out: Path) -> Path:
    """Print the HTML file ``html`` to ``out`` and return ``out``."""
    target = out.resolve()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        done = run([f"--print-to-pdf={tmp}", "--no-pdf-header-footer", html.resolve().as_uri()])
        if not tmp.is_file() or tmp.stat().st_size == 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ChromiumError(f"headless Chromium printed no PDF (exit {done.returncode}): {last}")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target

"""Every error pyirt raises on purpose, and the exit code each one maps to.

The CLI catches :class:`IrtError` in one place, prints ``str(error)`` on one line and exits with
``error.exit_code``. Anything else is a bug: exit 70, traceback only with ``--debug``.

    IrtError                       exit 1  (base; never raised bare)
    ├── InvalidInput               exit 2  bad runbook, config, flag, input value
    │   ├── ValidationFailed               carries every Problem found, not just the first
    │   └── TemplateError                  a template failed to render (names the path)
    ├── StepFailed                 exit 1  an action failed (names step, action, backend)
    │   └── StepTimedOut
    ├── Stopped                    exit 3  stopped at an approval gate or by a signal; resumable
    ├── IncidentNotFound           exit 4
    ├── Conflict                   exit 5  incident locked, closed, or its runbook changed
    ├── MissingExtra               exit 6  an optional dependency is not installed
    └── RegistryError              exit 6  an action plugin failed to load or clashes
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_STOPPED = 3
EXIT_NOT_FOUND = 4
EXIT_CONFLICT = 5
EXIT_ENVIRONMENT = 6
EXIT_INTERNAL = 70


class IrtError(Exception):
    """Base of every deliberate pyirt error. ``str()`` is the one line a person sees."""

    exit_code = EXIT_FAILED


class InvalidInput(IrtError):
    exit_code = EXIT_INVALID


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation finding: where (file, line, column, path) and what."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ValidationFailed(InvalidInput):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "invalid"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class TemplateError(InvalidInput):
    pass


class StepFailed(IrtError):
    """An action failed. The message names the step, the action and the backend."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, step: str = "", action: str = "", backend: str = "") -> None:
        self.step = step
        self.action = action
        self.backend = backend
        super().__init__(message)


class StepTimedOut(StepFailed):
    pass


class ActionError(Exception):
    """Raised by an action to report a failure in its own words (one line).

    ``retryable`` says whether another attempt may succeed; ``retry_after`` (seconds) is the
    backend's own hint, honoured by the engine's backoff.
    """

    def __init__(
        self, message: str, *, backend: str = "", retryable: bool = True, retry_after: float | None = None
    ) -> None:
        self.backend = backend
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(message)


class Stopped(IrtError):
    exit_code = EXIT_STOPPED


class IncidentNotFound(IrtError):
    exit_code = EXIT_NOT_FOUND


class Conflict(IrtError):
    exit_code = EXIT_CONFLICT


class MissingExtra(IrtError):
    exit_code = EXIT_ENVIRONMENT

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(f"{module} is not installed: pip install 'pyirt[{extra}]'")


class RegistryError(IrtError):
    exit_code = EXIT_ENVIRONMENT

"""Optional dependencies: heavy SDKs live in extras and are imported only by the adapter that needs
them. :func:`require` turns a missing one into a one-line error that says what to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from pyirt.errors import MissingExtra


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise MissingExtra naming ``pip install 'pyirt[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name and module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the SDK is there but broken: show the real error, not an install hint
        raise MissingExtra(extra, module) from None

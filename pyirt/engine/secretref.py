"""Resolving ``secret(ref)`` references: ``env:NAME`` and ``file:PATH``.

Every value resolved is registered with the run's redactor before it is returned, so it is
scrubbed from anything written afterwards, even if an action misuses it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pyirt.core.secrets import Redactor, Secret
from pyirt.errors import TemplateError


def resolver(redactor: Redactor) -> Callable[[str], Secret]:
    cache: dict[str, Secret] = {}

    def secret(ref: str) -> Secret:
        if not isinstance(ref, str):
            raise TemplateError(f"secret(): expected a reference like env:NAME, got {type(ref).__name__}")
        if ref in cache:
            return cache[ref]
        scheme, _, rest = ref.partition(":")
        if scheme == "env":
            value = os.environ.get(rest)
            if value is None:
                raise TemplateError(f"secret {ref}: environment variable {rest} is not set")
        elif scheme == "file":
            path = Path(rest).expanduser()
            try:
                value = path.read_text(encoding="utf-8").rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateError(f"secret {ref}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        else:
            raise TemplateError(f"secret {ref!r}: unknown scheme {scheme!r} (use env:NAME or file:PATH)")
        redactor.add(value)
        cache[ref] = Secret(value, ref=ref)
        return cache[ref]

    return secret

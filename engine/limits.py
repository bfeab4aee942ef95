"""Size and expansion limits on what a repository may make gitwave parse.

Anyone who can push to Git can write a YAML alias bomb ("billion laughs"), a
document nested thousands deep or a 200 MB ConfigMap. Each is refused while
parsing, with a RenderError naming the file, before anything is applied:

- ``max_object_bytes``: one object's source text (Kubernetes' API server refuses
  objects over 1.5 MiB by default, so nothing larger can be applied anyway);
- ``max_render_bytes``: all manifest text one render reads (a file, or a tool's
  output);
- ``max_alias_nodes``: nodes a document gains by resolving its aliases (the
  expansion, not the number of ``*refs``: nine aliases nine deep are a billion);
- ``max_depth``: nesting of mappings and sequences.

Each can be changed through the environment (``GITWAVE_MAX_OBJECT_BYTES``,
``GITWAVE_MAX_RENDER_BYTES``, ``GITWAVE_MAX_ALIAS_NODES``, ``GITWAVE_MAX_DEPTH``),
read on every call so a test or an operator can raise one without a restart.
``GITWAVE_MAX_DEPTH`` may be raised to ``MAX_DEPTH_CEILING`` at most: later
stages walk objects recursively, and a deeper object would overflow Python's
stack there instead of being refused here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gitwave.engine.errors import RenderError
from gitwave.engine.model import SourceRef

_ENV = {
    "max_object_bytes": "GITWAVE_MAX_OBJECT_BYTES",
    "max_render_bytes": "GITWAVE_MAX_RENDER_BYTES",
    "max_alias_nodes": "GITWAVE_MAX_ALIAS_NODES",
    "max_depth": "GITWAVE_MAX_DEPTH",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """The caps one parse enforces (see the module docstring)."""

    max_object_bytes: int = 1_572_864  # the API server's default request limit, 1.5 MiB
    max_render_bytes: int = 256 * 1024 * 1024
    max_alias_nodes: int = 10_000
    max_depth: int = 100


def current_limits() -> Limits:
    """The defaults, with any ``GITWAVE_MAX_*`` environment variable applied.

    A value that is not a positive integer raises RenderError naming the variable.
    """
    values: dict[str, int] = {}
    for field, variable in _ENV.items():
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            number = int(raw)
        except ValueError:
            number = 0
        if number <= 0:
            raise RenderError(
                SourceRef(variable),
                f"{raw!r} is not a positive whole number",
                hint=f"set {variable} to a number such as {getattr(Limits(), field)}",
            )
        if field == "max_depth" and number > MAX_DEPTH_CEILING:
            raise RenderError(
                SourceRef(variable),
                f"{number} is over the most gitwave can check safely ({MAX_DEPTH_CEILING})",
                hint=f"set {variable} to at most {MAX_DEPTH_CEILING}; "
                "no Kubernetes object needs more",
            )
        values[field] = number
    return Limits(**values) if values else _DEFAULT


def limit_hint(variable_field: str) -> str:
    """The hint every limit error carries: what to do, and how to raise the cap."""
    return (
        "split or simplify the manifest; if it is legitimate, raise the limit "
        f"with {_ENV[variable_field]}"
    )


_DEFAULT = Limits()
# Python's default recursion limit is 1000 frames and copying or diffing an
# object takes up to two per level: 300 leaves room for the frames below.
MAX_DEPTH_CEILING = 300

__all__ = ["MAX_DEPTH_CEILING", "Limits", "current_limits", "limit_hint"]

"""Finding and running the external render tools: kustomize, helm and sops.

Every subprocess the render stage starts goes through ``run_tool``: the
command is an argument list (never a shell line), it runs with a timeout, and
every failure — missing binary, timeout, non-zero exit — becomes a
RenderError naming the repository file being rendered. Keeping one choke
point is what lets a later check guarantee that no value read from Git is
taken by a tool as a flag.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitwave.engine import mask
from gitwave.engine.errors import RenderError
from gitwave.engine.model import SourceRef

TOOL_TIMEOUT_S = 120.0
_STDERR_LINES = 8
# ``password=x``, ``"apiToken": "x"``, ``secret: x`` in free text: the key is
# kept, the value masked.
_ASSIGNMENT = re.compile(
    r"""(?ix)
    (\b[\w.-]*(?:password|passwd|secret|token|api[_-]?key|credential|private[_-]?key)[\w.-]*
     ["']?\s*[=:]\s*)
    ("[^"\n]*"|'[^'\n]*'|[^\s,;\]\}\)]+)
    """
)


def find_binary(name: str) -> str | None:
    """``name`` next to the running Python (a wheel's venv bin/), else on PATH; None if neither."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def tool_path(path: Path) -> str:
    """``path`` as a tool argument: made absolute, so it begins with ``/`` and can never be
    read as a flag, whatever the repository named it."""
    return str(path.absolute())


@dataclass(frozen=True)
class ToolFailure:
    """A tool that ran and exited non-zero: what an error message may quote from it.

    ``stderr_lines`` are the non-blank lines of its stderr, with the hidden
    directories cut and the redacted values masked as ``***``.
    """

    tool: str
    where: str
    returncode: int
    stderr_lines: tuple[str, ...]


def quote_stderr(failure: ToolFailure) -> RenderError:
    """The usual error for a failed tool: ``<tool> failed:`` and the first lines of stderr."""
    detail = "\n  ".join(failure.stderr_lines[:_STDERR_LINES]) or (
        f"exit status {failure.returncode}"
    )
    masked = any(mask.MASK in line for line in failure.stderr_lines)
    return RenderError(
        SourceRef(failure.where),
        f"{failure.tool} failed:\n  {detail}",
        hint="secret values are shown as ***" if masked else "",
    )


def run_tool(
    args: Sequence[str],
    *,
    tool: str,
    where: str,
    cwd: str | None = None,
    timeout_s: float = TOOL_TIMEOUT_S,
    hide_dirs: Sequence[str] = (),
    redact: Iterable[str] = (),
    on_failure: Callable[[ToolFailure], RenderError] = quote_stderr,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run ``args`` (``args[0]`` is the binary) and return its stdout.

    ``tool`` names the tool and ``where`` the repository file in every error.
    ``cwd`` None keeps the caller's working directory. On a non-zero exit,
    ``hide_dirs`` (the repository root, temporary directories) are cut from
    stderr so messages show repository-relative paths, ``redact`` values are
    masked, and ``on_failure`` turns what is left into the RenderError raised.
    ``env`` None inherits gitwave's environment.
    Raises RenderError as well when the tool cannot start or times out.
    """
    try:
        proc = subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            cwd=cwd,
            env=None if env is None else dict(env),
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            SourceRef(where), f"{tool} did not finish within {timeout_s:.0f}s"
        ) from None
    except OSError as err:
        raise RenderError(SourceRef(where), f"cannot run {tool}: {err.strerror}") from None
    if proc.returncode != 0:
        lines = _clean_stderr(proc.stderr, hide_dirs=hide_dirs, redact=redact)
        raise on_failure(ToolFailure(tool, where, proc.returncode, lines))
    return proc.stdout


def _clean_stderr(
    stderr: str, *, hide_dirs: Sequence[str], redact: Iterable[str]
) -> tuple[str, ...]:
    for directory in hide_dirs:
        stderr = stderr.replace(directory + os.sep, "")
    # Known values first (longest first, inside ``redact``), then whatever
    # still reads like ``password=…``: a tool may echo a value no input showed.
    stderr = scrub_secret_assignments(mask.redact(stderr, redact))
    return tuple(line for line in stderr.strip().splitlines() if line.strip())


def scrub_secret_assignments(text: str) -> str:
    """``text`` with the value of every ``password=…``, ``token: …`` and the like masked."""
    return _ASSIGNMENT.sub(lambda m: m.group(1) + mask.MASK, text)


__all__ = [
    "TOOL_TIMEOUT_S",
    "ToolFailure",
    "find_binary",
    "quote_stderr",
    "run_tool",
    "scrub_secret_assignments",
    "tool_path",
]

"""A plan that found nothing to do, kept across processes: a fresh
`gitwave plan` of an app nobody touched since prints it without planning.

A plan is a function of its inputs: the app as loaded (``AppSpec``), what was
asked (``SyncRequest``), the render (its objects), the targets' live state,
the Kubernetes release its schemas check and gitwave's own code. When every
one of them is what it was at a plan that found nothing to change, the plan
is that one again. Each is named in the key, none is guessed:

- the render by the signature of the render cache entry it was read back
  from (``disk_cache.content_digest``: a keyed digest of the very bytes the
  objects were decoded from), with its revision, path, tool and the objects
  it read encrypted; a render not read back from that cache has none, and is
  planned in full. The CLI looks the entry's head up first (``entry_identity``:
  its signature checked, its 10,000 objects not decoded) and decodes them
  only when no plan is kept under that key;
- the live state by each target's ``StateStamp``: the sandbox's write
  counter (every write, from any process, moves it), AWS only while it holds
  nothing of the app; a Kubernetes cluster gives none, and its apps are
  planned in full;
- the app and the request by a canonical form of every compared field
  (sets sorted, mappings by key); a value with no canonical form (a callable,
  an object of another type) means no verdict;
- the code by the mtimes of gitwave's modules, the schemas by their directory.

Only a plan with nothing to create, update, prune or warn about is kept, and
only when the targets' stamp after it is the one taken before it (nothing
wrote meanwhile). What is kept is the plan's text as printed (``form``
says which form: colour or not), in ``$GITWAVE_CACHE/verdicts``, one signed
plain-data file per app (``SignedFiles``). A policy directory (read from disk at
each plan), a request for one object or a forced plan is never kept.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from gitwave.engine.apps import AppSpec
from gitwave.engine.kube_versions import schema_root
from gitwave.engine.model import Action, Plan, ResourceKey
from gitwave.engine.plan_memo import MIN_OBJECTS
from gitwave.engine.render import Rendered, RenderTool
from gitwave.engine.render.disk_cache import EntryHead, SignedFiles, content_digest
from gitwave.engine.render.values import HelmReleaseInfo
from gitwave.engine.router import ProviderRouter
from gitwave.engine.sync_request import SyncRequest

__all__ = [
    "RenderIdentity",
    "Verdicts",
    "entry_identity",
    "is_no_op",
    "render_identity",
    "verdict_key",
    "verdicts",
]

FORMAT = 1


class _NoCanonicalForm(Exception):
    """A value whose text could stand for two different values."""


def _canonical(value: Any) -> Any:
    """``value`` as plain JSON data that two equal values share in any process
    (a frozenset's repr follows the per-process string hash; this does not)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, ResourceKey):
        return ["key", str(value)]
    if isinstance(value, enum.Enum):
        return ["enum", type(value).__qualname__, _canonical(value.value)]
    if isinstance(value, PurePath):
        return ["path", str(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = []
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            if not field.compare:
                # Not part of the value (a cache, a lookup): only when unset.
                if item:
                    raise _NoCanonicalForm(field.name)
                continue
            fields.append([field.name, _canonical(item)])
        return ["dataclass", f"{type(value).__module__}.{type(value).__qualname__}", fields]
    if isinstance(value, tuple | list):
        return ["seq", [_canonical(v) for v in value]]
    if isinstance(value, frozenset | set):
        return ["set", sorted(_text(v) for v in value)]
    if isinstance(value, Mapping):
        items = [(_text(k), _canonical(v)) for k, v in value.items()]
        return ["map", [list(item) for item in sorted(items, key=lambda kv: kv[0])]]
    raise _NoCanonicalForm(type(value).__name__)


def _text(value: Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True)


@functools.cache
def _code_identity() -> tuple[tuple[str, int], ...]:
    """The mtimes of gitwave's modules, the printers in ``tui`` included
    (``os.scandir``: a third of the time ``Path.rglob`` and ``stat`` took)."""
    package = Path(__file__).resolve().parents[1]
    found: list[tuple[str, int]] = []
    folders = [str(package / folder) for folder in ("engine", "providers", "compositions", "tui")]
    while folders:
        folder = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                try:
                    found.append((entry.path, entry.stat().st_mtime_ns))
                except OSError:
                    found.append((entry.path, 0))
            elif entry.is_dir() and entry.name != "__pycache__":
                folders.append(entry.path)
    return tuple(sorted(found))


def _schemas() -> str:
    root = schema_root()
    try:
        return f"{root} {root.stat().st_mtime_ns}"
    except OSError:
        return str(root)


@dataclass(frozen=True, slots=True)
class RenderIdentity:
    """What names a render in the key: the signature of the render cache entry
    its objects are, object for object, and the rest of the ``Rendered``."""

    content: str
    revision: str
    path: str
    tool: RenderTool
    encrypted: frozenset[ResourceKey] = frozenset()
    helm_releases: tuple[HelmReleaseInfo, ...] = ()


def render_identity(rendered: Rendered) -> RenderIdentity | None:
    """``rendered``'s identity when its objects are a render read back from the
    render cache and it is big enough to keep a plan of; None otherwise."""
    if len(rendered.resources) < MIN_OBJECTS:
        return None  # planned in milliseconds: not worth a file per small app
    content = content_digest(rendered.resources)
    if not content:
        return None
    return RenderIdentity(
        content,
        rendered.revision,
        rendered.path,
        rendered.tool,
        rendered.encrypted,
        rendered.helm_releases,
    )


def entry_identity(head: EntryHead) -> RenderIdentity:
    """The identity ``render_identity`` gives the render read back from the
    entry ``head`` heads, for an app whose render is that entry exactly
    (nothing encrypted, no HelmRelease expanded: ``_decode`` makes neither).
    When the app's render is not that entry exactly (children left out,
    HelmReleases expanded), no key ever saved holds this identity: a saved
    key's content is the signature of the very objects the plan read, and
    whether an app's render leaves its entry's objects as they are (no child
    to leave out, no HelmRelease to expand) depends on those objects and on
    the app only, both named in the key."""
    return RenderIdentity(head.digest, head.revision, head.path, head.tool)


def verdict_key(
    app: AppSpec,
    request: SyncRequest,
    *,
    render: RenderIdentity | None,
    targets: ProviderRouter,
    form: str,
) -> str:
    """The key of the plan of ``app`` with these inputs, printed in ``form``;
    "" when this plan cannot be vouched for (see the module docstring)."""
    if render is None or app.removed_from or app.policy_dirs or request.policy.dirs:
        return ""
    if request.resource is not None or request.resources or request.force:
        return ""
    stamp = targets.state_stamp(app.name)
    if stamp is None:
        return ""
    try:
        inputs = _canonical(
            {
                "app": app,
                "request": request,
                "cluster": targets.cluster,
                "render": [
                    render.revision,
                    render.path,
                    render.tool,
                    render.encrypted,
                    render.helm_releases,
                ],
            }
        )
    except _NoCanonicalForm:
        return ""
    text = json.dumps(
        [FORMAT, _code_identity(), _schemas(), render.content, stamp, form, inputs],
        sort_keys=True,
    )
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()


def is_no_op(plan: Plan) -> bool:
    """True when ``plan`` has nothing to create, update, prune or run."""
    if plan.out_of_sync:
        return False
    return all(task.action is Action.NONE for task in plan.tasks())


class Verdicts:
    """The kept no-op plans of one cache directory, one file per app."""

    def __init__(self, root: Path) -> None:
        self._files = SignedFiles(root)

    def load(self, app: str, key: str) -> str | None:
        """The text kept for ``app`` under exactly ``key``; None otherwise."""
        if not key:
            return None
        document = self._files.read(_name(app))
        if not isinstance(document, dict) or document.get("key") != key:
            return None
        text = document.get("text")
        return text if isinstance(text, str) else None

    def save(self, app: str, key: str, text: str) -> None:
        """Keep ``text`` as ``app``'s plan under ``key`` (replacing the last)."""
        if key:
            self._files.write(_name(app), {"key": key, "text": text})


def _name(app: str) -> str:
    return repr(("verdict", FORMAT, app))


def _default_dir() -> Path:
    if os.environ.get("GITWAVE_CACHE"):
        return Path(os.environ["GITWAVE_CACHE"]) / "verdicts"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitwave" / "verdicts"


def verdicts() -> Verdicts:
    """The kept plans of the current cache directory (``$GITWAVE_CACHE``, …)."""
    return Verdicts(_default_dir())

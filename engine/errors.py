"""Typed errors. Every message names its subject: ``file:line`` or ``Kind/ns/name``.

``retriable`` tells the reconcile loop whether trying again later can help (an
unreachable server) or not (malformed YAML: only a new commit fixes it).
"""

from __future__ import annotations

from collections.abc import Sequence

from gitwave.engine.model import ResourceKey, SourceRef


class GitwaveError(Exception):
    """Base of every error gitwave reports to a user."""

    retriable: bool = False
    hint: str = ""
    # The hint for a command line user where theirs differs (a flag of the
    # verb where ``hint`` names an Application's sync option); "": ``hint``.
    cli_hint: str = ""
    # Seconds the target asked to be left alone for (HTTP 429 ``Retry-After``);
    # a retry waits at least this long. 0: the target said nothing.
    retry_after_s: float = 0.0

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


class SourceError(GitwaveError):
    """The source could not be read: a bad URL or revision, a path escaping the repo."""


class PathEscapeError(SourceError):
    """A path points outside the repository (``..``, absolute, or a symlink out)."""

    def __init__(self, path: str, *, reason: str) -> None:
        super().__init__(
            f"{path}: path escapes the repository ({reason})",
            hint="keep every path inside the repository; remote or outside bases are refused",
        )
        self.path = path
        self.reason = reason


class RenderError(GitwaveError):
    """A document could not be rendered. Names the file and line."""

    def __init__(self, source: SourceRef | str, detail: str, *, hint: str = "") -> None:
        where = str(source)
        super().__init__(f"{where}: {detail}", hint=hint)
        self.source = source if isinstance(source, SourceRef) else SourceRef(source)
        self.detail = detail


class ToolMissingError(RenderError):
    """A render tool (helm, kustomize, sops) is not installed."""

    def __init__(self, source: SourceRef | str, tool: str, *, hint: str = "") -> None:
        super().__init__(
            source,
            f"rendering needs the `{tool}` binary, which is not on PATH",
            hint=hint or f"install {tool} and put it on PATH",
        )
        self.tool = tool


class ValidationError(GitwaveError):
    """A resource is structurally wrong (bad annotation, unknown hook, duplicate)."""

    def __init__(self, subject: str, detail: str, *, hint: str = "") -> None:
        super().__init__(f"{subject}: {detail}", hint=hint)
        self.subject = subject
        self.detail = detail


class CycleError(GitwaveError):
    """The dependency graph has a cycle; names every resource on it."""

    def __init__(self, cycle: Sequence[ResourceKey]) -> None:
        self.cycle = tuple(cycle)
        path = " -> ".join(k.display for k in (*self.cycle, self.cycle[0])) if cycle else ""
        super().__init__(
            f"dependency cycle: {path}",
            hint="remove one of the depends-on annotations or sync waves that form the loop",
        )


class ProviderError(GitwaveError):
    """A target refused or failed an operation on one object."""

    def __init__(
        self,
        key: ResourceKey | None,
        detail: str,
        *,
        retriable: bool = False,
        retry_after_s: float = 0.0,
    ) -> None:
        subject = key.display if key is not None else "target"
        super().__init__(f"{subject}: {detail}")
        self.key = key
        self.detail = detail
        self.retriable = retriable
        self.retry_after_s = retry_after_s


class ConflictError(ProviderError):
    """The object changed since it was read (a stale resourceVersion, HTTP 409).

    Retriable: read the object again and redo the change on the new version."""

    def __init__(self, key: ResourceKey, detail: str) -> None:
        super().__init__(key, detail, retriable=True)


class FieldConflictError(ProviderError):
    """Server-side apply found fields that another applier owns with other
    values (HTTP 409 with FieldManagerConflict causes). Not retriable: only the
    other manager letting go, or this app opting into force, resolves it.
    ``conflicts`` is ``(field, manager)`` pairs, fields as ``.spec.replicas``."""

    def __init__(self, key: ResourceKey, conflicts: Sequence[tuple[str, str]]) -> None:
        self.conflicts = tuple(conflicts)
        managers = sorted({manager for _, manager in self.conflicts})
        fields = ", ".join(f"{name} (owned by {manager})" for name, manager in self.conflicts)
        super().__init__(
            key,
            f"apply conflicts with field manager{'s' if len(managers) > 1 else ''} "
            f"{', '.join(repr(m) for m in managers)}: {fields}; not forced (to take them "
            "over, add the sync option ServerSideApply=true,Force=true)",
        )
        self.hint = (
            "let the other manager drop these fields, remove them from the manifest, or take "
            "them over with ServerSideApply=true,Force=true in the object's "
            "argocd.argoproj.io/sync-options annotation or the app's syncPolicy.syncOptions"
        )


class UnreachableError(ProviderError):
    """The target could not be reached; retriable, and never read as 'absent'."""

    def __init__(self, target: str, detail: str) -> None:
        super().__init__(None, f"{target} unreachable: {detail}", retriable=True)
        self.target = target


class SafetyError(GitwaveError):
    """gitwave refused an operation that would be unsafe (an empty render with prune on)."""


class OwnershipError(SafetyError):
    """An object the operation would change or delete belongs to another app."""

    def __init__(self, key: ResourceKey, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.key = key


class StoreError(GitwaveError):
    """The history store could not be read or written."""

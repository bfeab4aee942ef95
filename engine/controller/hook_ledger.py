"""Hook runs kept in the cluster, so the replica that takes over an app does not
run its hooks again (``engine.hooks.HookLedger`` over one ConfigMap per app).

The ConfigMap lives in the controller's namespace, named after a digest of the
app's id; its ``ledger.json`` holds, per revision, the hooks done and the
hooks started. Writes carry the resourceVersion read, and a lost race reads
and applies the change again, so two writers never drop each other's records.
Only the last ``KEEP_REVISIONS`` revisions are kept: a ConfigMap holds 1 MiB.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from gitwave.engine.errors import GitwaveError
from gitwave.engine.hooks import HookStart

KEEP_REVISIONS = 5
_KEY = "ledger.json"
_ATTEMPTS = 10


@runtime_checkable
class ConfigMapStore(Protocol):
    """ConfigMaps of the controller's namespace, with optimistic concurrency."""

    def load_config_map(self, name: str) -> tuple[dict[str, str], str] | None:
        """``(data, resourceVersion)``, or None when there is no such ConfigMap."""
        ...

    def save_config_map(
        self, name: str, data: Mapping[str, str], *, version: str | None, labels: Mapping[str, str]
    ) -> bool:
        """Create (``version`` None) or replace at ``version``; False on a lost race."""
        ...


def ledger_name(app_id: str) -> str:
    return f"gitwave-hooks-{hashlib.sha256(app_id.encode()).hexdigest()[:16]}"


class ConfigMapHookLedger:
    """``HookLedger`` for one app id, in the ConfigMap ``ledger_name(app_id)``.

    ``scope`` separates operations: Argo CD runs an app's hooks on every sync
    operation, so each ``operation`` (known by the generation it was set at)
    has its own records, and only a sync of the same operation taken over by
    another replica skips the hooks already run; automated syncs share the
    scope ``auto``, so a heal at the same revision runs no hook again."""

    def __init__(self, store: ConfigMapStore, app_id: str, *, scope: str = "auto") -> None:
        self._store = store
        self._app_id = app_id
        self._scope = scope
        self._name = ledger_name(app_id)

    def _read(self) -> tuple[dict[str, Any], str | None]:
        found = self._store.load_config_map(self._name)
        if found is None:
            return {"app": self._app_id, "revisions": {}}, None
        data, version = found
        try:
            parsed = json.loads(data.get(_KEY) or "{}")
        except ValueError:
            parsed = {}
        if not isinstance(parsed, dict) or not isinstance(parsed.get("revisions"), dict):
            parsed = {"app": self._app_id, "revisions": {}}
        return parsed, version

    def _change(self, revision: str, change: Callable[[dict[str, Any]], None]) -> None:
        revision = f"{self._scope}/{revision}"
        for _ in range(_ATTEMPTS):
            ledger, version = self._read()
            revisions: dict[str, Any] = ledger["revisions"]
            entry = revisions.setdefault(revision, {"done": {}, "started": {}, "at": time.time()})
            change(entry)
            entry["at"] = time.time()
            for old in sorted(revisions, key=lambda r: revisions[r].get("at", 0))[:-KEEP_REVISIONS]:
                del revisions[old]
            data = {_KEY: json.dumps(ledger, sort_keys=True)}
            labels = {"app.kubernetes.io/part-of": "gitwave", "gitwave.dev/ledger": "hooks"}
            if self._store.save_config_map(self._name, data, version=version, labels=labels):
                return
        raise GitwaveError(f"ConfigMap/{self._name}: hook ledger kept changing; gave up")

    def _entry(self, revision: str) -> dict[str, Any]:
        ledger, _ = self._read()
        entry = ledger["revisions"].get(f"{self._scope}/{revision}")
        return entry if isinstance(entry, dict) else {"done": {}, "started": {}}

    def record_hook(self, app: str, revision: str, hook: str, *, instance: str) -> None:
        def change(entry: dict[str, Any]) -> None:
            entry["started"].pop(hook, None)
            entry["done"][hook] = instance

        self._change(revision, change)

    def hooks_done(self, app: str, revision: str) -> frozenset[str]:
        return frozenset(self._entry(revision).get("done", {}))

    def start_hook(self, app: str, revision: str, hook: str, *, instance: str, token: str) -> None:
        def change(entry: dict[str, Any]) -> None:
            entry["started"][hook] = [instance, token, time.time()]

        self._change(revision, change)

    def drop_hook_start(self, app: str, revision: str, hook: str) -> None:
        self._change(revision, lambda entry: entry["started"].pop(hook, None))

    def hooks_started(self, app: str, revision: str) -> Mapping[str, HookStart]:
        started = self._entry(revision).get("started", {})
        return {
            hook: HookStart(hook=hook, instance=str(v[0]), token=str(v[1]), started=float(v[2]))
            for hook, v in started.items()
            if isinstance(v, list) and len(v) == 3
        }


__all__ = ["KEEP_REVISIONS", "ConfigMapHookLedger", "ConfigMapStore", "ledger_name"]

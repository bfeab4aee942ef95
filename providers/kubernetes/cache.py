"""The live-state cache: one list+watch per resource type gitwave uses.

An ``Informer`` keeps every object of one type (all namespaces) in memory. A
background thread lists the type (in pages), then watches from the list's
``resourceVersion``; a watch that ends is resumed from the last version seen,
a ``410 Gone`` (the version was compacted away) relists, and any failure
relists after a backoff with jitter (0.1 s doubling to 5 s).

The cache is only trusted while it is *synced*: after a list succeeded and
until the next failure. A reader that finds it unsynced asks the server
directly instead, so a broken watch never makes an object look absent.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Callable, Mapping
from typing import Any

import urllib3

from gitwave.engine.errors import GitwaveError
from gitwave.engine.model import LABEL_APP, Manifest

from .discovery import ResourceType
from .transport import HttpError, Transport, iter_lines

# The server ends a watch after this long; the informer resumes at once.
WATCH_SECONDS = 240
LIST_PAGE = 500
BACKOFF_START = 0.1
BACKOFF_MAX = 5.0

ObjectKey = tuple[str, str]  # (namespace, name)
# Told of every watch event (the type and the object) and of every relist after
# a failure (the object None: anything of that type may have changed unseen).
ChangeListener = Callable[[ResourceType, Manifest | None], None]


class _Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410): relist."""


def _rv(manifest: Mapping[str, Any]) -> str:
    return str((manifest.get("metadata") or {}).get("resourceVersion") or "")


def newer_or_same(candidate: str, current: str) -> bool:
    """True when ``candidate`` is at least as new as ``current``.

    Resource versions are opaque, but every etcd-backed server hands out
    increasing integers; anything else is taken as newer (last write wins)."""
    try:
        return int(candidate) >= int(current)
    except ValueError:
        return True


def object_key(manifest: Mapping[str, Any]) -> ObjectKey:
    meta = manifest.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _app_of(manifest: Mapping[str, Any]) -> str:
    labels = (manifest.get("metadata") or {}).get("labels")
    return str(labels.get(LABEL_APP) or "") if isinstance(labels, Mapping) else ""


class Informer:
    """List+watch of one resource type. ``start`` once; ``stop`` ends the thread."""

    def __init__(
        self, transport: Transport, rtype: ResourceType, *, listener: ChangeListener | None = None
    ) -> None:
        self.rtype = rtype
        self._transport = transport
        self._listener = listener
        self._listed_once = False
        self._objects: dict[ObjectKey, Manifest] = {}
        # app label value → keys of the objects carrying it: an app's objects
        # are found without scanning every object of the type (1000 apps).
        self._by_app: dict[str, set[ObjectKey]] = {}
        self._lock = threading.Lock()
        # Signalled when the informer becomes synced or an attempt fails, so a
        # reader waiting for it learns either way without sleeping blind.
        self._changed = threading.Condition(self._lock)
        self._synced = False
        self.last_error = ""  # set while failing; cleared by a successful list
        self.forbidden = False
        self.gone = False
        self._stop = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(
            target=self._run, name=f"gitwave-watch-{rtype.display}", daemon=True
        )

    # ------------------------------------------------------------ reading

    @property
    def synced(self) -> bool:
        return self._synced

    def wait_ready(self, timeout: float) -> bool:
        """True once synced. Waits (up to ``timeout``) only for the first list:
        an informer that is failing answers False at once, so a reader falls
        back to the server without sitting out a backoff."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._synced or bool(self.last_error) or self._stop.is_set(),
                timeout=timeout,
            )
            return self._synced

    def get(self, namespace: str, name: str) -> Manifest | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def items(self) -> list[Manifest]:
        with self._lock:
            return list(self._objects.values())

    def of_app(self, app: str) -> list[Manifest]:
        """The objects labelled ``gitwave.dev/app: <app>``, from an index."""
        with self._lock:
            return [self._objects[key] for key in self._by_app.get(app, ())]

    def _put(self, key: ObjectKey, manifest: Manifest | None) -> None:
        """Store (None: drop) one object, keeping the app index; under _lock."""
        old = self._objects.pop(key, None)
        if old is not None:
            app = _app_of(old)
            if app:
                keys = self._by_app.get(app)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._by_app[app]
        if manifest is not None:
            self._objects[key] = manifest
            app = _app_of(manifest)
            if app:
                self._by_app.setdefault(app, set()).add(key)

    # ------------------------------------------------------------ writing

    def offer(self, manifest: Manifest) -> None:
        """Put an object the server just returned (an apply's response) into the
        cache, unless the cache already holds a newer version of it."""
        key = object_key(manifest)
        with self._lock:
            current = self._objects.get(key)
            if current is None or newer_or_same(_rv(manifest), _rv(current)):
                self._put(key, manifest)

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the thread to end (does not wait; see ``stop``)."""
        self._stop.set()

    def stop(self, *, wait: float = 2.0) -> None:
        """End the thread: interrupt its watch and wait up to ``wait`` seconds."""
        self._stop.set()
        response = self._response
        if response is not None:
            # Interrupts the blocking read of the watch from this thread.
            # Best effort: the thread is a daemon and ends with the process anyway.
            with contextlib.suppress(Exception):
                response.shutdown()
        with self._changed:
            self._synced = False
            self._changed.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        backoff = BACKOFF_START
        while not self._stop.is_set():
            try:
                version = self._list()
                backoff = BACKOFF_START
                while not self._stop.is_set():
                    version = self._watch(version)
            except _Gone:
                self._mark_unsynced("watch expired (410 Gone); relisting")
                continue
            except HttpError as exc:
                if exc.status == 410:
                    # Some servers answer an expired version with HTTP 410 rather
                    # than an ERROR event: the same expiry, relist at once.
                    self._mark_unsynced("watch expired (410 Gone); relisting")
                    continue
                self._mark_unsynced(str(exc))
                if exc.status == 403:
                    # Not allowed to list or watch this type cluster-wide: retrying
                    # cannot help; readers ask the server directly instead.
                    self.forbidden = True
                    return
                if exc.is_unknown_path:
                    # The type is not served any more (its CRD was deleted); a new
                    # informer starts if it comes back.
                    self.gone = True
                    return
            except (GitwaveError, OSError, ValueError) as exc:
                self._mark_unsynced(str(exc))
            except Exception as exc:  # the thread must survive anything
                self._mark_unsynced(f"{type(exc).__name__}: {exc}")
            if self._stop.wait(backoff * random.uniform(0.8, 1.2)):
                break
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _mark_unsynced(self, error: str) -> None:
        with self._changed:
            self._synced = False
            self.last_error = error
            self._changed.notify_all()

    def _list(self) -> str:
        objects: dict[ObjectKey, Manifest] = {}
        token = ""
        version = ""
        api_version, kind = self.rtype.api_version, self.rtype.kind
        while True:
            query = [("limit", str(LIST_PAGE))]
            if token:
                query.append(("continue", token))
            _, page = self._transport.request(
                "GET", self.rtype.collection_path(), query=query, timeout=(5.0, 120.0)
            )
            for item in page.get("items") or []:
                # List items carry no apiVersion/kind; the engine wants whole objects.
                item["apiVersion"], item["kind"] = api_version, kind
                objects[object_key(item)] = item
            meta = page.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            token = str(meta.get("continue") or "")
            if not token:
                break
        by_app: dict[str, set[ObjectKey]] = {}
        for key, item in objects.items():
            app = _app_of(item)
            if app:
                by_app.setdefault(app, set()).add(key)
        with self._changed:
            self._objects = objects
            self._by_app = by_app
            self._synced = True
            self.last_error = ""
            self._changed.notify_all()
        if self._listed_once and self._listener is not None:
            self._listener(self.rtype, None)
        self._listed_once = True
        return version

    def _watch(self, version: str) -> str:
        """Watch from ``version`` until the server ends the stream; the last version seen."""
        query = [
            ("watch", "1"),
            ("resourceVersion", version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(WATCH_SECONDS)),
        ]
        response = self._transport.open_stream(
            self.rtype.collection_path(), query=query, read_timeout=WATCH_SECONDS + 30
        )
        self._response = response
        try:
            for line in iter_lines(response):
                if self._stop.is_set():
                    break
                version = self._apply_event(json.loads(line), version)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if self._stop.is_set():
                return version  # interrupted by stop()
            raise self._transport.unreachable("GET", self.rtype.collection_path(), exc) from exc
        finally:
            self._response = None
            response.release_conn()
        return version

    def _apply_event(self, event: Mapping[str, Any], version: str) -> str:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Gone()
            raise OSError(f"watch error: {obj.get('message') or obj}")
        rv = _rv(obj)
        if kind == "BOOKMARK":
            return rv or version
        key = object_key(obj)
        with self._lock:
            current = self._objects.get(key)
            if kind == "DELETED":
                if current is not None and newer_or_same(rv, _rv(current)):
                    self._put(key, None)
            elif current is None or newer_or_same(rv, _rv(current)):
                self._put(key, obj)
        if self._listener is not None:
            self._listener(self.rtype, obj)
        return rv or version


class InformerSet:
    """The informers of one provider, created on first use of each type."""

    def __init__(self, transport: Transport, *, listener: ChangeListener | None = None) -> None:
        self._transport = transport
        self._listener = listener
        self._informers: dict[tuple[str, str, str], Informer] = {}
        self._lock = threading.Lock()
        self._closed = False

    def for_type(self, rtype: ResourceType) -> Informer | None:
        """The informer of ``rtype``, started on first use; None once closed or
        when the type cannot be watched."""
        if not rtype.listable:
            return None
        key = (rtype.group, rtype.version, rtype.plural)
        with self._lock:
            if self._closed:
                return None
            informer = self._informers.get(key)
            if informer is None or informer.gone:
                informer = Informer(self._transport, rtype, listener=self._listener)
                self._informers[key] = informer
                informer.start()
            return informer

    def failing(self) -> list[Informer]:
        """Informers that cannot list or watch right now (not counting types that
        are forbidden or gone: those never come back by retrying)."""
        with self._lock:
            informers = list(self._informers.values())
        return [i for i in informers if i.last_error and not (i.forbidden or i.gone)]

    def types(self) -> list[ResourceType]:
        """The types being watched (not those found gone)."""
        with self._lock:
            return [i.rtype for i in self._informers.values() if not i.gone]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            informers = list(self._informers.values())
            self._informers.clear()
        for informer in informers:
            informer.signal_stop()
        for informer in informers:
            informer.stop()

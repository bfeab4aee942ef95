"""Recording a HelmRelease's releases in Helm's storage Secrets (helm_storage.py)
and reading them back.

After each sync of a release that worked, its revision (the number
``status.history`` gives it) is written to
``sh.helm.release.v1.<release>.v<N>`` in the storage namespace
(``spec.storageNamespace``, default the HelmRelease's namespace), the one
before marked ``superseded``, and only ``spec.maxHistory`` revisions kept
(default 5; 0: all); an uninstall deletes them all. A release applied to
another cluster (``spec.kubeConfig``) is not recorded: its storage would be
that cluster's, which this controller does not reach for Secrets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.apps.model import AppSpec
from gitwave.engine.controller.helm_releases import HISTORY_LIMIT
from gitwave.engine.controller.helm_storage import (
    ReleaseSecrets,
    StoredRelease,
    decode_release,
    encode_release,
    labels_of,
    release_body,
    stored_after,
)
from gitwave.engine.controller.objects import HELM_KIND, AppObject
from gitwave.engine.controller.release_sync import release_of
from gitwave.engine.controller.remediation import installed
from gitwave.engine.model import Resource
from gitwave.engine.operations import Synced
from gitwave.engine.yamlio import dump

log = logging.getLogger("gitwave.controller")
# A release name goes into a label selector: only a DNS name, never ``,`` or ``!=``.
_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,51}[a-z0-9])?")


def _checked(release: str) -> str:
    if not _RELEASE_NAME.fullmatch(release):
        raise ValueError(
            f"Helm release name {release!r} is not a DNS name of at most 53 characters"
        )
    return release


def storage_namespace(obj: AppObject) -> str:
    """``spec.storageNamespace``, else the HelmRelease's own namespace (as Flux)."""
    spec = obj.body.get("spec") or {}
    found = spec.get("storageNamespace") if isinstance(spec, Mapping) else None
    return str(found) if isinstance(found, str) and found else obj.namespace


def _keep(obj: AppObject) -> int:
    limit = (obj.body.get("spec") or {}).get("maxHistory")
    return HISTORY_LIMIT if not isinstance(limit, int) or isinstance(limit, bool) else limit


def manifest_text(resources: Sequence[Resource]) -> str:
    """The release's objects as Helm's ``manifest``: YAML documents, each after ``---``."""
    return "".join(f"---\n{dump(r.manifest)}" for r in resources)


def read_releases(secrets: ReleaseSecrets, namespace: str, release: str) -> list[StoredRelease]:
    """The revisions of ``release`` stored in ``namespace`` (one that is not a
    Helm release is left out, named in a warning, never shown)."""
    found = []
    for name, text in secrets.list_release_secrets(namespace, _checked(release)):
        try:
            stored = decode_release(text, where=f"{namespace}/{name}")
        except ValueError as error:
            log.warning("%s", error)
            continue
        if stored.name == release:
            found.append(stored)
    return found


def record_release(
    api: object,
    obj: AppObject,
    app: AppSpec,
    synced: Synced,
    status: Mapping[str, Any],
) -> None:
    """After its status: the release ``synced`` made (``status`` its
    HelmRelease status, whose ``history[0]`` is this revision) in Helm's
    storage, when ``api`` keeps Secrets (``ReleaseSecrets``), so ``helm list``
    shows it and any replica can roll it back. A failure is logged, never
    raised: the release is applied, and the next sync writes its record."""
    if not isinstance(api, ReleaseSecrets):
        return
    try:
        _record(api, obj, app, synced, status)
    except Exception as error:  # the API's error; never the Secret's content
        log.warning("%s: writing its Helm release Secret failed: %s", obj.app_id, error)


def _record(
    secrets: ReleaseSecrets,
    obj: AppObject,
    app: AppSpec,
    synced: Synced,
    status: Mapping[str, Any],
) -> None:
    history = status.get("history")
    rendered = synced.state.rendered
    if (
        obj.kind != HELM_KIND
        or app.kube_config is not None
        or synced.result.dry_run
        or not history
        or rendered is None
        or not rendered.helm_releases
    ):
        return
    info = rendered.helm_releases[0]
    entry = history[0]
    status_text = "deployed" if synced.result.ok else "failed"
    if entry.get("status") != status_text:
        return  # the status recorded no revision for this sync
    objects = set(info.objects)
    spec = obj.body.get("spec") or {}
    values = spec.get("values") if isinstance(spec.get("values"), Mapping) else {}
    action = "Upgrade" if installed(obj.body) else "Install"
    # helm's words: "Upgrade complete", `Upgrade "web" failed: <why>`.
    said = (
        f"{action} complete"
        if synced.result.ok
        else f'{action} "{info.release_name}" failed: {synced.result.message}'
    )
    new = StoredRelease(
        name=info.release_name,
        namespace=info.release_namespace,
        version=int(entry["version"]),
        status=status_text,
        body=release_body(
            name=info.release_name,
            namespace=info.release_namespace,
            version=int(entry["version"]),
            status=status_text,
            chart=(info.chart, info.version),
            values=values or {},
            manifest=manifest_text([r for r in rendered.resources if r.key in objects]),
            first_deployed=str(entry.get("firstDeployed") or ""),
            last_deployed=str(entry.get("lastDeployed") or ""),
            description=said,
        ),
    )
    _write(secrets, obj, new)


def _write(secrets: ReleaseSecrets, obj: AppObject, new: StoredRelease) -> None:
    namespace = storage_namespace(obj)
    change = stored_after(read_releases(secrets, namespace, new.name), new, keep=_keep(obj))
    for stored in change.writes:
        secrets.put_release_secret(
            namespace,
            stored.secret_name,
            labels=labels_of(stored),
            release=encode_release(stored.body),
        )
    for name in change.deletes:
        secrets.delete_release_secret(namespace, name)


def record_rollback(
    api: object, obj: AppObject, app: AppSpec, *, version: int, to: int, stamp: str
) -> None:
    """After a rollback remediation to revision ``to``: as ``helm rollback``, a
    new revision ``version`` in Helm's storage, deployed, holding revision
    ``to``'s chart, values and manifest ("Rollback to N"), the others
    superseded. Logged, never raised, as ``record_release``; nothing when
    ``to`` is not stored (a replica that only had its state store's copy)."""
    if not isinstance(api, ReleaseSecrets) or obj.kind != HELM_KIND or app.kube_config is not None:
        return
    try:
        release = release_of(obj)[0]
        stored = read_releases(api, storage_namespace(obj), release)
        good = next((s for s in stored if s.version == to), None)
        if good is None:
            return
        info = {
            **(good.body.get("info") or {}),
            "status": "deployed",
            "first_deployed": stamp,
            "last_deployed": stamp,
            "description": f"Rollback to {to}",
        }
        body = {**good.body, "version": version, "info": info}
        _write(api, obj, StoredRelease(good.name, good.namespace, version, "deployed", body))
    except Exception as error:  # the API's error; never the Secret's content
        log.warning("%s: writing its Helm rollback Secret failed: %s", obj.app_id, error)


def forget_releases(secrets: ReleaseSecrets, obj: AppObject, release: str) -> int:
    """Delete every stored revision of ``release`` (an uninstall); how many."""
    namespace = storage_namespace(obj)
    names = [name for name, _ in secrets.list_release_secrets(namespace, _checked(release))]
    for name in names:
        secrets.delete_release_secret(namespace, name)
    return len(names)


__all__ = [
    "forget_releases",
    "manifest_text",
    "read_releases",
    "record_release",
    "record_rollback",
    "storage_namespace",
]

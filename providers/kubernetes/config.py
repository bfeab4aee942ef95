"""Kubeconfig: which cluster, which user, and whether gitwave may talk to it.

``load_client`` reads the kubeconfig the way kubectl does — ``--kubeconfig``
first, else every path in ``$KUBECONFIG`` merged (the first file to define a
name wins), else ``~/.kube/config`` — picks the context, and refuses a user
whose credentials come from an ``exec`` plugin unless that is allowed: the
plugin is an arbitrary program named by the file, and gitwave runs
unattended (the continuous loop, CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from gitwave.engine.errors import GitwaveError
from gitwave.providers.kubernetes.client_light import load

# The official client's connection classes only (``client_light``: none of its
# API and model classes, ~40 MiB).
_client = load()
k8s_client = _client
ConfigException = _client.ConfigException
KubeConfigLoader = _client.KubeConfigLoader
KubeConfigMerger = _client.KubeConfigMerger

DEFAULT_KUBECONFIG = "~/.kube/config"


class KubeconfigError(GitwaveError):
    """The kubeconfig cannot be used: missing, malformed, unknown context, refused user."""


@dataclass(frozen=True, slots=True)
class ClusterConnection:
    """What ``load_client`` resolved: a configured API client and where it points."""

    api_client: Any  # kubernetes.client.ApiClient (the package has no type hints)
    context: str
    server: str
    paths: tuple[str, ...]


def kubeconfig_paths(kubeconfig: str | None = None) -> tuple[str, ...]:
    """The kubeconfig files to merge, in precedence order, as kubectl picks them.

    ``kubeconfig`` (``--kubeconfig``) may itself hold several paths separated by
    ``os.pathsep``. Missing files in ``$KUBECONFIG`` are skipped, like kubectl."""
    explicit = kubeconfig is not None
    raw = kubeconfig if explicit else os.environ.get("KUBECONFIG") or DEFAULT_KUBECONFIG
    assert raw is not None
    paths = tuple(os.path.expanduser(p) for p in raw.split(os.pathsep) if p)
    if explicit:
        for path in paths:
            if not os.path.isfile(path):
                raise KubeconfigError(f"kubeconfig {path}: no such file")
    return paths


def _merged(paths: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """The merged config (the client's ConfigNode) and a plain dict view of it."""
    existing = [p for p in paths if os.path.isfile(p)]
    if not existing:
        where = ", ".join(paths) or DEFAULT_KUBECONFIG
        raise KubeconfigError(
            f"no kubeconfig found (looked at {where})",
            hint="set KUBECONFIG or pass --kubeconfig, or use the sandbox target",
        )
    try:
        merger = KubeConfigMerger(os.pathsep.join(existing))
    except (OSError, yaml.YAMLError, ConfigException, AttributeError, TypeError) as exc:
        raise KubeconfigError(f"kubeconfig {', '.join(existing)}: cannot be read: {exc}") from exc
    node = merger.config
    if node is None or not isinstance(node.value, dict):
        raise KubeconfigError(f"kubeconfig {', '.join(existing)}: not a kubeconfig")
    # kubectl takes current-context from the first file that sets it (the
    # client's merger keeps the last one).
    for path in merger.paths:
        current = (merger.config_files.get(path) or {}).get("current-context")
        if current:
            node.value["current-context"] = current
            break
    return node, _plain(node.value)


def _plain(value: Any) -> Any:
    """The merger wraps merged list items in ConfigNodes; unwrap for reading."""
    inner = getattr(value, "value", value)
    if isinstance(inner, Mapping):
        return {str(k): _plain(v) for k, v in inner.items()}
    if isinstance(inner, list):
        return [_plain(v) for v in inner]
    return inner


def _named(items: Any, name: str) -> Mapping[str, Any] | None:
    for item in items or []:
        if isinstance(item, Mapping) and item.get("name") == name:
            return item
    return None


def context_names(*, kubeconfig: str | None = None) -> list[str]:
    """The context names of the merged kubeconfig, in file order."""
    _, plain = _merged(kubeconfig_paths(kubeconfig))
    return [str(c.get("name")) for c in plain.get("contexts") or [] if isinstance(c, Mapping)]


def _pick_context(plain: Mapping[str, Any], context: str | None, where: str) -> str:
    names = [str(c.get("name")) for c in plain.get("contexts") or [] if isinstance(c, Mapping)]
    listed = ", ".join(names) if names else "none"
    if context is None:
        current = plain.get("current-context")
        if not current:
            raise KubeconfigError(
                f"kubeconfig {where}: no current-context is set",
                hint=f"pass --context; contexts: {listed}",
            )
        context = str(current)
    if context not in names:
        raise KubeconfigError(
            f"kubeconfig {where}: context {context!r} not found; contexts: {listed}",
            hint="pick one of the listed contexts with --context",
        )
    return context


def _check_user(plain: Mapping[str, Any], context: str, where: str, *, allow_exec: bool) -> None:
    ctx = _named(plain.get("contexts"), context) or {}
    body = ctx.get("context") if isinstance(ctx.get("context"), Mapping) else {}
    assert isinstance(body, Mapping)
    user_name = body.get("user")
    if not user_name:
        return
    user = _named(plain.get("users"), str(user_name))
    fields = user.get("user") if user and isinstance(user.get("user"), Mapping) else {}
    assert isinstance(fields, Mapping)
    plugin = fields.get("exec")
    provider = fields.get("auth-provider")
    provider_config = provider.get("config") if isinstance(provider, Mapping) else None
    # An auth-provider's cmd-path runs a program just like an exec plugin.
    if not plugin and isinstance(provider_config, Mapping) and provider_config.get("cmd-path"):
        plugin = {"command": provider_config["cmd-path"]}
    if plugin and not allow_exec:
        command = plugin.get("command", "?") if isinstance(plugin, Mapping) else "?"
        raise KubeconfigError(
            f"kubeconfig {where}: user {user_name!r} of context {context!r} gets its "
            f"credentials from an exec plugin ({command!r}); gitwave does not run "
            "credential plugins unless allowed",
            hint="pass --allow-exec-plugins if you trust that command, or use a "
            "kubeconfig with a token or client certificate",
        )


def load_client(
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    allow_exec_plugins: bool = False,
    pool_size: int = 32,
) -> ClusterConnection:
    """An API client for ``context`` (None: the current context).

    Raises KubeconfigError for a missing or malformed kubeconfig, an unknown
    context (the message lists the known ones) or an exec-plugin user when
    ``allow_exec_plugins`` is False. Nothing is contacted over the network."""
    paths = kubeconfig_paths(kubeconfig)
    node, plain = _merged(paths)
    where = os.pathsep.join(p for p in paths if os.path.isfile(p))
    chosen = _pick_context(plain, context, where)
    _check_user(plain, chosen, where, allow_exec=allow_exec_plugins)

    def refused(exc: Exception) -> NoReturn:
        raise KubeconfigError(f"kubeconfig {where}: context {chosen!r}: {exc}") from exc

    files = tuple(str(Path(p)) for p in paths if os.path.isfile(p))
    return _connect(node, chosen, pool_size=pool_size, paths=files, refused=refused)


def _connect(
    config: Any,
    chosen: str,
    *,
    pool_size: int,
    paths: tuple[str, ...],
    refused: Callable[[Exception], NoReturn],
) -> ClusterConnection:
    """A connection to the context ``chosen`` of the kubeconfig ``config`` (a
    plain dict, or the client's merged ConfigNode); ``refused`` raises the
    caller's KubeconfigError for a context the client cannot load."""
    configuration = k8s_client.Configuration()
    try:
        loader = KubeConfigLoader(config_dict=config, active_context=chosen, config_base_path=None)
        loader.load_and_set(configuration)
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        refused(exc)
    # Parallel applies share one pool; the default (4) would open and drop
    # connections at every burst.
    configuration.connection_pool_maxsize = pool_size
    return ClusterConnection(
        api_client=k8s_client.ApiClient(configuration),
        context=chosen,
        server=str(configuration.host),
        paths=paths,
    )


def impersonating_client(api_client: Any, user: str) -> Any:
    """A second API client on ``api_client``'s connection settings whose every
    request carries ``Impersonate-User: user`` (as ``kubectl --as`` does)."""
    client = k8s_client.ApiClient(api_client.configuration)
    client.default_headers.update(api_client.default_headers)
    client.set_default_header("Impersonate-User", user)
    return client


def context_servers(*, kubeconfig: str | None = None) -> list[tuple[str, str]]:
    """``(context, server)`` of every context of the merged kubeconfig, in file
    order ([] when there is no kubeconfig). Nothing is contacted."""
    try:
        _, plain = _merged(kubeconfig_paths(kubeconfig))
    except KubeconfigError:
        return []
    servers = {
        str(c.get("name")): str((c.get("cluster") or {}).get("server") or "")
        for c in plain.get("clusters") or []
        if isinstance(c, Mapping)
    }
    found = []
    for ctx in plain.get("contexts") or []:
        if not isinstance(ctx, Mapping):
            continue
        body = ctx.get("context") if isinstance(ctx.get("context"), Mapping) else {}
        server = servers.get(str((body or {}).get("cluster")), "")
        if server:
            found.append((str(ctx.get("name")), server))
    return found


def context_namespace(*, context: str | None = None, kubeconfig: str | None = None) -> str:
    """The namespace the kubeconfig ``context`` (default: the current one) names,
    "" when it names none, as ``kubectl`` reads it. Nothing is contacted.

    Raises KubeconfigError when there is no kubeconfig or no such context."""
    paths = kubeconfig_paths(kubeconfig)
    _, plain = _merged(paths)
    name = _pick_context(plain, context, ", ".join(paths))
    found = _named(plain.get("contexts"), name) or {}
    body = found.get("context") if isinstance(found.get("context"), Mapping) else {}
    namespace = (body or {}).get("namespace")
    return namespace if isinstance(namespace, str) else ""


def load_client_from_config(
    config: Mapping[str, Any],
    *,
    subject: str,
    allow_exec_plugins: bool = False,
    pool_size: int = 32,
) -> ClusterConnection:
    """An API client for the current context of an in-memory kubeconfig (one
    built from an Argo CD cluster Secret, or a Flux kubeConfig Secret's).
    ``subject`` names where it came from in errors; the credentials never
    appear in one. Raises KubeconfigError like ``load_client``."""
    plain = _plain(dict(config))
    chosen = _pick_context(plain, None, subject)
    _check_user(plain, chosen, subject, allow_exec=allow_exec_plugins)

    def refused(exc: Exception) -> NoReturn:
        # The client's messages quote field names, never their values.
        raise KubeconfigError(f"{subject}: cannot be used: {type(exc).__name__}") from None

    return _connect(plain, chosen, pool_size=pool_size, paths=(), refused=refused)

"""Cluster credentials kept in Secrets, read as Argo CD and Flux read them.

- An Argo CD cluster Secret (label ``argocd.argoproj.io/secret-type: cluster``)
  holds ``name``, ``server``, ``config`` (JSON: ``bearerToken``,
  ``username``/``password``, ``tlsClientConfig`` with ``caData``/``certData``/
  ``keyData``/``insecure``/``serverName``, ``execProviderConfig``),
  ``namespaces``, ``clusterResources`` and ``project``, in ``stringData`` or
  base64 ``data``. Its labels and annotations become the cluster's.
- A Flux ``spec.kubeConfig.secretRef`` Secret holds a kubeconfig under
  ``value`` or ``value.yaml`` (or the ref's ``key``).

Either way the result is a ``Cluster`` (no credentials, printable) and a
kubeconfig mapping (credentials; never printed, logged or stored) that the
provider side connects with. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitwave.engine.clusters import Cluster, ClusterKind, pairs
from gitwave.engine.errors import ValidationError

SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type"
CLUSTER_SECRET_TYPE = "cluster"
FLUX_KUBECONFIG_KEYS = ("value", "value.yaml")


@dataclass(frozen=True)
class Credentials:
    """How to reach a cluster: a kubeconfig mapping (one context, ``gitwave``),
    never shown. ``exec_command`` names an exec credential plugin it runs (""
    none): refused unless the command allows exec plugins."""

    kubeconfig: Mapping[str, Any] = field(default_factory=dict, repr=False)
    exec_command: str = ""
    subject: str = ""  # what holds them, for errors: ``Secret/ns/name (file:line)``


def is_cluster_secret(manifest: Mapping[str, Any]) -> bool:
    """True for an Argo CD cluster Secret."""
    if manifest.get("kind") != "Secret" or str(manifest.get("apiVersion", "")) != "v1":
        return False
    labels = (manifest.get("metadata") or {}).get("labels") or {}
    return isinstance(labels, Mapping) and labels.get(SECRET_TYPE_LABEL) == CLUSTER_SECRET_TYPE


def secret_strings(manifest: Mapping[str, Any], subject: str) -> dict[str, str]:
    """The Secret's values as text: ``data`` decoded, ``stringData`` over it
    (as the API server merges them)."""
    values: dict[str, str] = {}
    data = manifest.get("data") or {}
    if not isinstance(data, Mapping):
        raise ValidationError(subject, "data must be a mapping")
    for key, raw in data.items():
        try:
            values[str(key)] = base64.b64decode(str(raw), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationError(subject, f"data.{key} is not base64 of UTF-8 text") from None
    string_data = manifest.get("stringData") or {}
    if not isinstance(string_data, Mapping):
        raise ValidationError(subject, "stringData must be a mapping")
    values.update({str(k): str(v) for k, v in string_data.items()})
    return values


def secret_subject(manifest: Mapping[str, Any], where: str = "") -> str:
    meta = manifest.get("metadata") or {}
    name = f"Secret/{meta.get('namespace') or 'default'}/{meta.get('name') or '?'}"
    return f"{name} ({where})" if where else name


def parse_cluster_secret(
    manifest: Mapping[str, Any], *, where: str = "", origin: str = ""
) -> tuple[Cluster, Credentials]:
    """The cluster an Argo CD cluster Secret describes, and its credentials.

    ``where`` (``file:line``) names it in errors; ``origin`` is what the
    Cluster says it came from (default: the Secret's name and ``where``).
    Raises ValidationError naming the Secret and the field for a missing
    server, malformed config JSON or an unknown field type."""
    subject = secret_subject(manifest, where)
    values = secret_strings(manifest, subject)
    server = values.get("server", "").strip()
    if not server:
        raise ValidationError(subject, "a cluster Secret needs a server field")
    if not server.startswith(("https://", "http://")):
        raise ValidationError(subject, f"server {server!r} is not an http(s) URL")
    name = values.get("name", "").strip() or server
    try:
        config = json.loads(values.get("config") or "{}")
    except json.JSONDecodeError as exc:
        raise ValidationError(subject, f"config is not JSON: {exc.msg}") from None
    if not isinstance(config, Mapping):
        raise ValidationError(subject, "config must be a JSON object")
    namespaces = tuple(n.strip() for n in values.get("namespaces", "").split(",") if n.strip())
    cluster_resources = values.get("clusterResources", "").strip().lower() == "true"
    meta = manifest.get("metadata") or {}
    cluster = Cluster(
        name=name,
        server=server,
        kind=ClusterKind.ARGOCD_SECRET,
        labels=pairs(meta.get("labels")),
        annotations=pairs(meta.get("annotations")),
        namespaces=namespaces,
        # Argo CD: clusterResources matters only for a namespace-scoped cluster.
        cluster_resources=cluster_resources or not namespaces,
        project=values.get("project", "").strip(),
        origin=origin or subject,
    )
    return cluster, _argo_credentials(server, config, subject)


def _argo_credentials(server: str, config: Mapping[str, Any], subject: str) -> Credentials:
    """An Argo CD cluster config as a one-context kubeconfig."""
    tls = config.get("tlsClientConfig") or {}
    if not isinstance(tls, Mapping):
        raise ValidationError(subject, "config.tlsClientConfig must be an object")
    cluster: dict[str, Any] = {"server": server}
    if tls.get("caData"):
        cluster["certificate-authority-data"] = str(tls["caData"])
    if tls.get("insecure") is True:
        cluster["insecure-skip-tls-verify"] = True
    if tls.get("serverName"):
        cluster["tls-server-name"] = str(tls["serverName"])
    user: dict[str, Any] = {}
    if tls.get("certData"):
        user["client-certificate-data"] = str(tls["certData"])
    if tls.get("keyData"):
        user["client-key-data"] = str(tls["keyData"])
    if config.get("bearerToken"):
        user["token"] = str(config["bearerToken"])
    if config.get("username"):
        user["username"] = str(config["username"])
        user["password"] = str(config.get("password") or "")
    exec_command = ""
    plugin = config.get("execProviderConfig")
    if plugin:
        if not isinstance(plugin, Mapping) or not plugin.get("command"):
            raise ValidationError(subject, "config.execProviderConfig needs a command")
        exec_command = str(plugin["command"])
        user["exec"] = {
            "apiVersion": str(plugin.get("apiVersion") or "client.authentication.k8s.io/v1"),
            "command": exec_command,
            "args": [str(a) for a in plugin.get("args") or []],
            "env": [
                {"name": str(k), "value": str(v)} for k, v in (plugin.get("env") or {}).items()
            ],
        }
    if config.get("awsAuthConfig"):
        raise ValidationError(
            subject, "config.awsAuthConfig is not supported", hint="use execProviderConfig"
        )
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gitwave", "cluster": cluster}],
        "users": [{"name": "gitwave", "user": user}],
        "contexts": [{"name": "gitwave", "context": {"cluster": "gitwave", "user": "gitwave"}}],
        "current-context": "gitwave",
    }
    return Credentials(kubeconfig=kubeconfig, exec_command=exec_command, subject=subject)


def parse_kubeconfig_secret(
    manifest: Mapping[str, Any], *, key: str = "", where: str = ""
) -> tuple[str, Credentials]:
    """``(server, credentials)`` of a Flux kubeconfig Secret: the kubeconfig
    under ``key`` (default: ``value``, else ``value.yaml``), its current
    context's server. Raises ValidationError naming the Secret."""
    subject = secret_subject(manifest, where)
    values = secret_strings(manifest, subject)
    keys = (key,) if key else FLUX_KUBECONFIG_KEYS
    text = next((values[k] for k in keys if k in values), None)
    if text is None:
        raise ValidationError(subject, f"holds no kubeconfig under {' or '.join(keys)}")
    import yaml  # a kubeconfig Secret is rare; PyYAML is 20 ms of every start

    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValidationError(subject, "the kubeconfig is not YAML") from None
    if not isinstance(config, Mapping):
        raise ValidationError(subject, "the kubeconfig is not a mapping")
    server = kubeconfig_server(config, subject)
    exec_command = ""
    for user in config.get("users") or []:
        body = (user or {}).get("user") or {}
        if isinstance(body, Mapping) and isinstance(body.get("exec"), Mapping):
            exec_command = str(body["exec"].get("command") or "?")
    return server, Credentials(kubeconfig=config, exec_command=exec_command, subject=subject)


def kubeconfig_server(config: Mapping[str, Any], subject: str) -> str:
    """The server of ``config``'s current context (else its only context)."""
    contexts = [c for c in config.get("contexts") or [] if isinstance(c, Mapping)]
    current = config.get("current-context")
    chosen = next((c for c in contexts if c.get("name") == current), None)
    if chosen is None and len(contexts) == 1:
        chosen = contexts[0]
    if chosen is None:
        raise ValidationError(subject, "the kubeconfig has no current-context")
    cluster_name = (chosen.get("context") or {}).get("cluster")
    for entry in config.get("clusters") or []:
        if isinstance(entry, Mapping) and entry.get("name") == cluster_name:
            server = str((entry.get("cluster") or {}).get("server") or "")
            if server:
                return server
    raise ValidationError(subject, f"the kubeconfig's cluster {cluster_name!r} has no server")

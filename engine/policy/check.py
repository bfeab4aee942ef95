"""The policy stage: every check of ``--policy`` directories, the render's own
ValidatingAdmissionPolicies and plaintext Secrets, over an app's objects.

Policy directories are read from the host (the user named them); the render's
policies come from Git like any object. Every message has a Secret's values
redacted. A Secret counts as plaintext in Git unless the render read it from a
SOPS-encrypted file (``Rendered.encrypted``); a SealedSecret is no Secret.
A ValidatingAdmissionPolicy sees that provenance as
``request.userInfo.extra["gitwave.dev/provenance"]`` (``["plaintext"]`` or
``["encrypted"]``), the way an authenticator adds facts about a user.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.errors import GitwaveError
from gitwave.engine.mask import redact, secret_values
from gitwave.engine.model import Manifest, Resource, ResourceKey
from gitwave.engine.policy import rego
from gitwave.engine.policy.model import Action, Check, Finding, PolicyLoadError
from gitwave.engine.policy.vap_kinds import is_policy
from gitwave.engine.scope import is_cluster_scoped, scopes_from_crds

if TYPE_CHECKING:
    from gitwave.engine.policy import vap

PROVENANCE = "gitwave.dev/provenance"
PLAINTEXT_HINT = (
    "encrypt it with sops (gitwave decrypts it at render) or seal it into a SealedSecret"
)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """What the ``--policy`` directories hold."""

    admission: tuple[tuple[Manifest, str], ...] = ()
    params: tuple[Manifest, ...] = field(default=(), repr=False)
    rego: rego.RegoPolicies = field(default_factory=lambda: rego.RegoPolicies(()))


def load_policy_dirs(dirs: Iterable[str]) -> PolicySet:
    """The policies of ``dirs``; PolicyLoadError naming the file when one is unreadable."""
    admission: list[tuple[Manifest, str]] = []
    params: list[Manifest] = []
    modules: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    for text_dir in dirs:
        root = Path(text_dir)
        if not root.is_dir():
            raise PolicyLoadError(text_dir, "no such policy directory")
        try:
            found_modules, found_data = rego.load_dir(root)
        except (OSError, ValueError) as err:
            raise PolicyLoadError(text_dir, f"cannot read the policy directory: {err}") from None
        modules += found_modules
        rego.merge_data(data, (), found_data)
        from gitwave.engine.yamlio import iter_documents  # PyYAML: only with a policy dir

        for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml"), *root.rglob("*.json")]):
            text = path.read_text(encoding="utf-8")
            try:
                documents = (
                    [(json.loads(text), 1)]
                    if path.suffix == ".json"
                    else [(d.value, d.line) for d in iter_documents(text, file=str(path))]
                )
            except (ValueError, GitwaveError) as err:
                raise PolicyLoadError(str(path), f"not valid YAML/JSON: {err}") from None
            for value, line in documents:
                if not isinstance(value, dict) or "kind" not in value:
                    continue
                if is_policy(value):
                    admission.append((value, f"{path}:{line}"))
                else:
                    params.append(value)
    return PolicySet(tuple(admission), tuple(params), rego.RegoPolicies(tuple(modules), data))


# Live lookups: an object by key, and the live objects of (apiVersion, kind, namespace|None).
LiveLookup = Callable[[ResourceKey], Manifest | None]
LiveLister = Callable[[str, str, str | None], list[Manifest]]


def _no_list(api_version: str, kind: str, namespace: str | None) -> list[Manifest]:
    return []


@dataclass(frozen=True, slots=True)
class CheckInput:
    """The objects of one app and where each came from."""

    objects: Sequence[Resource]  # after compose: what would be applied
    rendered: Sequence[Resource] = ()  # as rendered from Git: for plaintext Secrets
    encrypted: frozenset[ResourceKey] = frozenset()
    where: Callable[[Resource], str] = field(default=lambda r: str(r.source or ""))


def check(
    given: CheckInput,
    policies: PolicySet,
    *,
    strict: bool = False,
    live: LiveLookup = lambda key: None,
    list_live: LiveLister = _no_list,
) -> list[Finding]:
    """Every finding of the admission policies, Rego policies and the plaintext-Secret
    check over ``given``, in object order. Raises PolicyLoadError for a policy
    that cannot run."""
    objects = list(given.objects)
    admission = list(policies.admission) + [
        (r.manifest, given.where(r)) for r in objects if is_policy(r.manifest)
    ]
    policy_list, bindings = _split(admission)
    engine = rego.RegoEngine(policies.rego) if policies.rego else None
    plaintext = {r.key for r in given.rendered if _is_plaintext_secret(r, given.encrypted)}
    if not bindings and engine is None:
        # No policy reads any object (most apps): only a plaintext Secret gives
        # a finding, so the other objects are not walked (10,000 in a big app).
        objects = [r for r in objects if r.key in plaintext]
    # What the admission policies read: made only when some policy is bound.
    plurals = _plurals(objects) if bindings else {}
    crd_scopes = scopes_from_crds(r.manifest for r in objects) if bindings else frozenset()
    namespaces = (
        {r.key.name: r.manifest for r in objects if r.key.kind == "Namespace"} if bindings else {}
    )
    in_render = [*policies.params, *(r.manifest for r in objects)] if bindings else []

    def params(api_version: str, kind: str, namespace: str | None) -> list[Manifest]:
        found = [
            m
            for m in in_render
            if m.get("apiVersion") == api_version
            and m.get("kind") == kind
            and (namespace is None or _namespace(m) in ("", namespace))
        ]
        return found or list_live(api_version, kind, namespace)

    findings: list[Finding] = []
    for resource in objects:
        key = resource.key
        where = given.where(resource)
        masked = secret_values(resource.manifest) if resource.is_secret else ()
        found: list[Finding] = []
        if bindings:  # the target is asked only when a policy may read it
            from gitwave.engine.policy import vap
            from gitwave.engine.policy.vap_match import Request, guess_resource

            old = live(key)
            namespace_object = None
            if key.namespace:
                namespace_object = namespaces.get(key.namespace) or live(
                    ResourceKey("", "Namespace", "", key.namespace)
                )
            group, _, version = resource.api_version.rpartition("/")
            request = Request(
                group=group,
                version=version,
                kind=key.kind,
                resource=plurals.get((group, key.kind)) or guess_resource(key.kind),
                namespace=key.namespace,
                name=key.name,
                operation="UPDATE" if old is not None else "CREATE",
                cluster_scoped=is_cluster_scoped(group, key.kind, extra=crd_scopes),
                extra={PROVENANCE: ["plaintext" if key in plaintext else "encrypted"]}
                if resource.is_secret
                else {},
            )
            subject = vap.Subject(
                request, resource.manifest, old, namespace_object, key.display, where
            )
            found += vap.evaluate(subject, policy_list, bindings, params)
        if engine is not None:
            results = engine.results(resource.manifest)
            found += rego.findings_of(results, subject=key.display, where=where, policy="rego")
        if key in plaintext:
            found.append(
                Finding(
                    check=Check.PLAINTEXT_SECRET,
                    action=Action.DENY if strict else Action.WARN,
                    subject=key.display,
                    where=where,
                    message="a Secret committed to Git in plaintext (not SOPS-encrypted, "
                    f"not a SealedSecret); {PLAINTEXT_HINT}",
                )
            )
        findings += [_redacted(f, masked) for f in found]
    return findings


def _split(
    admission: Sequence[tuple[Manifest, str]],
) -> tuple[list[vap.Policy], list[vap.Binding]]:
    """The policies and bindings of ``admission``; the CEL admission engine
    (``vap``) is imported only when there are some (most apps hold none)."""
    if not admission:
        return [], []
    from gitwave.engine.policy import vap

    return vap.split(admission)


def _redacted(finding: Finding, secrets: Sequence[str]) -> Finding:
    if not secrets:
        return finding
    from dataclasses import replace

    return replace(finding, message=redact(finding.message, secrets))


def _is_plaintext_secret(resource: Resource, encrypted: frozenset[ResourceKey]) -> bool:
    if not resource.is_secret or resource.key in encrypted:
        return False
    manifest = resource.manifest
    return bool(manifest.get("data") or manifest.get("stringData"))


def _namespace(manifest: Manifest) -> str:
    meta = manifest.get("metadata")
    return str(meta.get("namespace") or "") if isinstance(meta, Mapping) else ""


def _plurals(objects: Sequence[Resource]) -> dict[tuple[str, str], str]:
    """(group, kind) → plural, from the render's CustomResourceDefinitions."""
    found: dict[tuple[str, str], str] = {}
    for resource in objects:
        if resource.key.kind != "CustomResourceDefinition":
            continue
        spec = resource.manifest.get("spec")
        if not isinstance(spec, Mapping):
            continue
        names = spec.get("names")
        if isinstance(names, Mapping) and names.get("plural") and names.get("kind"):
            found[(str(spec.get("group", "")), str(names["kind"]))] = str(names["plural"])
    return found


__all__ = [
    "PROVENANCE",
    "CheckInput",
    "LiveLister",
    "LiveLookup",
    "PolicySet",
    "check",
    "load_policy_dirs",
]

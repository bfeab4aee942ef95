"""What every verb needs, built once from the global flags: the state directory,
the targets (providers) to reconcile onto, the history store, the output format
and the terminal to write on.

Exit codes: 0 success (``plan``: no changes); 1 ``plan`` found changes or a
sync failed; 2 bad input or a refused operation; 3 an unexpected failure.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitwave.engine.apps.namespaces import DEFAULT_NAMESPACE
from gitwave.engine.cluster_registry import ClusterRegistry
from gitwave.engine.cluster_secrets import (
    CLUSTER_SECRET_TYPE,
    SECRET_TYPE_LABEL,
    is_cluster_secret,
)
from gitwave.engine.clusters import ClusterKind
from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.fleet import Fleet, Reach
from gitwave.engine.fleet_sources import FleetSources, repo_secrets
from gitwave.engine.lock_names import DEFAULT_LOCK_TIMEOUT_S
from gitwave.engine.loop_store import LoopStore
from gitwave.engine.model import ResourceKey
from gitwave.engine.operations import SyncRequest
from gitwave.engine.policy.model import PolicyOptions
from gitwave.engine.private_files import private_directory
from gitwave.engine.provider import Provider
from gitwave.engine.router import ProviderRouter
from gitwave.engine.store import Store
from gitwave.engine.timeline_writer import TimelineWriter
from gitwave.providers.aws import AwsTarget
from gitwave.providers.sandbox import SandboxProvider, default_state_dir
from gitwave.tui.cli.output import Grid, Terminal, use_color
from gitwave.tui.targets import build_targets, connect_cluster

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUG = 3

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass
class Context:
    """What every verb needs; providers and the store open on first use."""

    args: argparse.Namespace
    state_dir: Path
    output: str
    terminal: Terminal
    clock: Callable[[], float] = time.time
    _targets: ProviderRouter | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _loop_store: LoopStore | None = field(default=None, repr=False)
    _sandbox: SandboxProvider | None = field(default=None, repr=False)
    _aws: AwsTarget | None = field(default=None, repr=False)
    _timeline: TimelineWriter | None = field(default=None, repr=False)
    _kube: Any = field(default=None, repr=False)
    _fleet: Fleet | None = field(default=None, repr=False)
    _opened: list[Any] = field(default_factory=list, repr=False)

    @property
    def color(self) -> bool:
        return self.terminal.color

    @property
    def rollout_seconds(self) -> float:
        return float(os.environ.get("GITWAVE_SANDBOX_ROLLOUT", "1.0"))

    @property
    def sandbox(self) -> SandboxProvider:
        """The sandbox a verb looks at: the default one, or with ``--cluster NAME``
        the named sandbox cluster's."""
        if self._sandbox is None:
            named = getattr(self.args, "cluster", None)
            if named:
                entry = self.registry.get(named)
                if entry is None or entry.cluster.kind is not ClusterKind.SANDBOX:
                    raise ValidationError(
                        f"--cluster {named}",
                        "is not a registered sandbox cluster",
                        hint="`gitwave cluster list` shows them; "
                        "`gitwave cluster add NAME --sandbox --server URL` adds one",
                    )
                path = private_directory(self.registry.sandbox_dir(named))
                self._sandbox = SandboxProvider(path, rollout_seconds=self.rollout_seconds)
            else:
                self._sandbox = SandboxProvider(
                    self.state_dir, rollout_seconds=self.rollout_seconds
                )
        return self._sandbox

    @property
    def registry(self) -> ClusterRegistry:
        """The clusters registered with ``gitwave cluster add``."""
        return ClusterRegistry(self.state_dir)

    @property
    def fleet(self) -> Fleet:
        """Each app's destination and its router (``engine.fleet``); the current
        target (``targets``) is ``in-cluster``."""
        if self._fleet is None:
            self._fleet = Fleet(
                current=lambda: self.targets,
                connect=self._connect,
                sources=FleetSources(
                    registry=self.registry.entries,
                    repo_secrets=self._repo_secrets,
                    management_secrets=self._management_secrets,
                    management_secret=self._management_secret,
                    kube_contexts=self._kube_contexts,
                    sandbox_dir=self.registry.sandbox_dir,
                ),
                current_server=str(getattr(self._kube_side(), "server", "") or ""),
                allow_exec_plugins=bool(self.args.allow_exec_plugins),
            )
        return self._fleet

    def _kube_side(self) -> Provider:
        return self.targets.providers[-1]

    def _connect(self, reach: Reach) -> ProviderRouter:
        # One AWS (one emulator) for every cluster; connection Secrets go to the app's.
        aws = self._aws if self._aws is not None else self._built_aws()
        router, kube_side = connect_cluster(
            reach,
            aws=aws,
            kubeconfig=self.args.kubeconfig,
            allow_exec_plugins=bool(self.args.allow_exec_plugins),
            rollout_seconds=self.rollout_seconds,
        )
        self._opened.append(kube_side)
        return router

    def _built_aws(self) -> AwsTarget:
        _ = self.targets  # builds the AWS target with the current target
        assert self._aws is not None
        return self._aws

    def _repo_secrets(self) -> list[tuple[dict[str, Any], str]]:
        path = getattr(self.args, "path", None)
        if not path:
            return []
        return [
            (dict(m), where)
            for m, where in repo_secrets(path, revision=getattr(self.args, "revision", None))
        ]

    def _management_secrets(self) -> list[dict[str, Any]]:
        kube_side = self._kube_side()
        if isinstance(kube_side, SandboxProvider):
            found = [live.manifest for live in kube_side.list(kind="Secret")]
        else:
            lister = getattr(kube_side, "list_labelled", None)
            if lister is None:
                return []
            selector = f"{SECRET_TYPE_LABEL}={CLUSTER_SECRET_TYPE}"
            found = [live.manifest for live in lister("v1", "Secret", selector)]
        return [dict(m) for m in found if is_cluster_secret(m)]

    def _management_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        live = self._kube_side().observe(ResourceKey("", "Secret", namespace, name))
        return None if live is None else dict(live.manifest)

    def _kube_contexts(self) -> list[tuple[str, str]]:
        from gitwave.providers.kubernetes import context_servers

        return context_servers(kubeconfig=self.args.kubeconfig)

    @property
    def target_flag(self) -> str:
        """``sandbox``, ``kube`` or ``kube:CONTEXT``: what ``--target``/``--context`` name."""
        if self.args.context:
            return f"kube:{self.args.context}"
        return str(self.args.target or "sandbox")

    @property
    def default_namespace(self) -> str:
        """Where objects naming no namespace go in apps naming no destination
        namespace: ``-n``, else the kubeconfig context's namespace on a cluster,
        else ``default`` (as kubectl)."""
        given = getattr(self.args, "namespace", None)
        if given:
            if not _DNS_LABEL.fullmatch(given):
                raise ValidationError(
                    f"-n {given}",
                    "is not a namespace name (lower case letters, digits and '-', "
                    "at most 63 characters)",
                )
            return str(given)
        target = self.target_flag
        if target == "kube" or target.startswith("kube:"):
            from gitwave.providers.kubernetes import context_namespace

            context = target.partition(":")[2] or None
            found = context_namespace(context=context, kubeconfig=self.args.kubeconfig)
            return found or DEFAULT_NAMESPACE
        return DEFAULT_NAMESPACE

    @property
    def targets(self) -> ProviderRouter:
        if self._targets is None:
            kube_side: Provider
            target = self.target_flag
            if target == "sandbox":
                kube_side = self.sandbox
            elif target == "kube" or target.startswith("kube:"):
                from gitwave.providers.kubernetes import KubernetesProvider

                self._kube = KubernetesProvider.from_kubeconfig(
                    context=target.partition(":")[2] or None,
                    kubeconfig=self.args.kubeconfig,
                    allow_exec_plugins=self.args.allow_exec_plugins,
                )
                kube_side = self._kube
            else:
                raise ValidationError(
                    f"--target {target}",
                    "unknown target",
                    hint="use sandbox (the default), kube (the current context) or kube:CONTEXT",
                )
            # The emulator stands in for AWS only on the sandbox: against a real
            # cluster, cloud kinds go to real AWS (or a ProviderConfig's endpoint).
            providers, self._aws = build_targets(
                state_dir=self.state_dir, kube_side=kube_side, embedded_aws=target == "sandbox"
            )
            self._targets = ProviderRouter(providers)
        return self._targets

    @property
    def target_name(self) -> str:
        return self.targets.description

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.state_dir / "gitwave.db")
        return self._store

    @property
    def loop_store(self) -> LoopStore:
        """Pins, hook runs and pauses of `gitwave run`, beside the history."""
        if self._loop_store is None:
            self._loop_store = LoopStore.beside(self.store)
        return self._loop_store

    @property
    def timeline(self) -> TimelineWriter:
        """The event sink into the store, batched (a commit per event is slower
        than a sync of thousands of objects)."""
        if self._timeline is None:
            self._timeline = TimelineWriter(self.store)
        return self._timeline

    def close(self) -> None:
        if self._timeline is not None:
            self._timeline.close()
        if self._aws is not None:
            self._aws.close()
        if self._kube is not None:
            self._kube.close()
        for opened in self._opened:
            opened.close()
        # Every database the command opened is closed here, not left to the
        # cyclic collector: a process running many commands (tests, an embedder)
        # ran out of descriptors (select() refuses one above 1023).
        if self._sandbox is not None:
            self._sandbox.close()
        if self._loop_store is not None:
            self._loop_store.close()
        if self._store is not None:
            self._store.close()

    @property
    def allow_local_repos(self) -> tuple[str, ...]:
        """``--allow-local-repo`` directories (the engine adds $GITWAVE_ALLOW_LOCAL_REPOS)."""
        return tuple(getattr(self.args, "allow_local_repo", None) or ())

    def sync_request(self, *, dry_run: bool = False) -> SyncRequest:
        """What the command's flags ask of a plan or sync; without ``--prune``
        the engine follows each app's policy."""
        lock_timeout = getattr(self.args, "lock_timeout", DEFAULT_LOCK_TIMEOUT_S)
        return SyncRequest(
            prune=True if getattr(self.args, "prune", False) else None,
            dry_run=dry_run,
            wave_timeout_s=getattr(self.args, "timeout", None),
            parallelism=getattr(self.args, "parallel", 8),
            adopt=bool(getattr(self.args, "adopt", False)),
            lock_timeout_s=0.0 if getattr(self.args, "no_wait", False) else lock_timeout,
            force=getattr(self.args, "force", False),
            policy=self.policy_options(),
            confirm_prune=bool(getattr(self.args, "confirm_prune", False)),
            prune_limit=getattr(self.args, "prune_limit", None),
            resources=tuple(getattr(self.args, "resource_refs", None) or ()),
        )

    def policy_options(self) -> PolicyOptions:
        """``--policy``, ``--strict`` and ``--kubernetes-version`` of the command."""
        return PolicyOptions(
            dirs=tuple(getattr(self.args, "policy", None) or ()),
            strict=bool(getattr(self.args, "strict", False)),
            kubernetes_version=getattr(self.args, "kubernetes_version", None),
        )

    def known_apps(self) -> list[str]:
        """The apps the store knows: those with a history (a sync, a rollback, a
        run's), sorted. Verbs taking an APP name check it against these."""
        return self.store.apps()

    def unknown_app(self, name: str, *, what: str) -> GitwaveError | None:
        """An error for an app name the store has never seen (nothing of ``what``
        and no history), naming the close and the known ones; None when known."""
        known = self.known_apps()
        if name in known or self.store.events(name, limit=1):
            return None
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {' or '.join(close)}?" if close else ""
        if known:
            hint = (hint + " " if hint else "") + "apps with a history: " + ", ".join(known)
        return GitwaveError(
            f"{name}: no {what} recorded: gitwave never synced an app of that name",
            hint=hint or "sync an app first (`gitwave sync PATH`)",
        )

    def out(self, value: str | Grid | RenderableType = "") -> None:
        self.terminal.out(value)

    def err(self, value: str | Grid | RenderableType = "") -> None:
        self.terminal.err(value)

    def paint(self, text: str, style: str) -> Text:
        return self.terminal.paint(text, style)

    def styled(self, text: str, style: str) -> str | Text:
        return self.terminal.styled(text, style)


def context_from_args(args: argparse.Namespace) -> Context:
    """The Context of one command line; flags a verb does not take get their defaults."""
    state = getattr(args, "state", None)
    state_dir = Path(state).expanduser() if state else default_state_dir()
    args.target = getattr(args, "target", None)
    args.context = getattr(args, "context", None)
    args.kubeconfig = getattr(args, "kubeconfig", None)
    args.allow_exec_plugins = getattr(args, "allow_exec_plugins", False)
    args.log_format = getattr(args, "log_format", "text")
    _refuse_unused_target(args)
    output = getattr(args, "output", "table")
    _refuse_unknown_form(args, output)
    color = use_color(sys.stdout) and not getattr(args, "no_color", False)
    return Context(args=args, state_dir=state_dir, output=output, terminal=Terminal(color=color))


def _verb_text(args: argparse.Namespace) -> str:
    """``sandbox get``, ``cluster list``, ``status``: the verb as typed."""
    nested = ("sandbox_verb", "kms_verb", "cluster_verb", "image_verb", "rollout_verb")
    words = [args.verb, *(getattr(args, n, None) for n in nested)]
    return " ".join(str(w) for w in words if w)


def _refuse_unknown_form(args: argparse.Namespace, output: str) -> None:
    """``-o wide|name`` on a verb that is no list, ``-o json`` on one with no data
    (``tui``, ``completion``): refused as kubectl refuses a printer it has none of."""
    from gitwave.tui.cli.output_forms import refusal

    found = refusal(_verb_text(args), str(getattr(args.func, "name", "")), output)
    if found is not None:
        raise ValidationError(f"-o {output}", found[0], hint=found[1])


def _refuse_unused_target(args: argparse.Namespace) -> None:
    """A verb that reaches no target refuses ``--target``/``--context``/``--kubeconfig``
    (kubectl and argocd refuse a flag a command does not take): the user meant
    something the command will not do."""
    why = getattr(args, "targetless", None)
    if not why:
        return
    given = [
        f"--{flag} {value}"
        for flag, value in (
            ("target", args.target if args.target != "sandbox" else None),
            ("context", args.context),
            ("kubeconfig", args.kubeconfig),
        )
        if value
    ]
    if given:
        verb = _verb_text(args)
        raise ValidationError(
            given[0], f"`gitwave {verb}` does not use a target: {why}", hint="drop it"
        )

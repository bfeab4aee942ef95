"""The arguments of the image, promote/drift and rollout verbs, apart from the
verbs' code: building the parser (``gitwave --help``) must not import the engine
those verbs use; each verb's function is imported when it runs (``lazy_verbs``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from gitwave.tui.cli.lazy_verbs import LazyVerb

if TYPE_CHECKING:
    from gitwave.engine.label_selector import LabelSelector
    from gitwave.engine.plan_filters import ResourceRef


# APP of the verbs working on one app (app_or_path._ONE_APP_VERBS), as --help shows it.
ONE_APP_HELP = (
    "the app's name, as status and history show it (a directory, repository or "
    "Application file defining one app names it too)"
)


def add_app_arg(parser: argparse.ArgumentParser, *, text: str = ONE_APP_HELP) -> None:
    """The positional APP, with its help."""
    parser.add_argument("app_name", metavar="APP", help=text)


def image_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``gitwave image scan|update`` (called once from tui/cli/parser.py)."""
    image = verbs.add_parser(
        "image", parents=[common], help="Flux image automation: scan registries, update tags"
    )
    iverbs = image.add_subparsers(dest="image_verb", required=True, metavar="COMMAND")
    s = iverbs.add_parser(
        "scan",
        parents=[common],
        help="list each ImageRepository's tags and each ImagePolicy's latest image",
    )
    s.add_argument("path", help="a directory holding the Flux image objects")
    s.set_defaults(func=LazyVerb("verbs_image", "cmd_image_scan"))
    u = iverbs.add_parser(
        "update",
        parents=[common],
        help="run each ImageUpdateAutomation once: rewrite the setters, commit, push",
    )
    u.add_argument("path", help="a directory holding the Flux image objects")
    u.add_argument("--dry-run", action="store_true", help="print the diff; commit nothing")
    u.add_argument(
        "--automation", action="append", metavar="NAME", help="only this automation (repeatable)"
    )
    u.add_argument(
        "--allow-local-repo",
        action="append",
        metavar="PATH",
        help="let a GitRepository's url name this host directory (repeatable; also "
        "$GITWAVE_ALLOW_LOCAL_REPOS)",
    )
    u.set_defaults(func=LazyVerb("verbs_image", "cmd_image_update"))


def promote_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """The ``promote`` and ``drift`` verbs (called once from ``parser.build_parser``)."""
    p = verbs.add_parser(
        "promote",
        parents=[common],
        help="copy a release from one environment to the next, as a commit on a new branch",
    )
    p.add_argument("app_name", metavar="APP", help="the app, without its environment suffix")
    p.add_argument("--from", dest="promote_from", required=True, metavar="ENV", help="source env")
    p.add_argument("--to", dest="promote_to", required=True, metavar="ENV", help="target env")
    p.add_argument("--path", default=".", help="where the environments are defined (default: .)")
    p.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="PATH",
        help="also copy this kustomization field (replicas, a dotted path or a JSON pointer; "
        "repeatable)",
    )
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY",
        help="copy this Helm values key (image.tag; repeatable)",
    )
    _commit_args(p)
    p.add_argument("--dry-run", action="store_true", help="show the diffs, write nothing")
    p.set_defaults(func=LazyVerb("verbs_promote", "cmd_promote"))

    p = verbs.add_parser(
        "drift",
        parents=[common],
        help="list an app's drifted fields; revert, ignore or accept one",
    )
    add_app_arg(p)
    p.add_argument(
        "--path",
        help="where APP is defined (default: where the last sync or run found it, else .)",
    )
    p.add_argument("--resource", default="", metavar="KIND/NAME", help="the drifted object")
    p.add_argument("--field", default="", metavar="PATH", help="the drifted field (spec.replicas)")
    action = p.add_mutually_exclusive_group()
    for name, text in (
        ("revert", "sync the object back to Git"),
        ("ignore", "write an ignoreDifferences rule for the field into Git"),
        ("accept", "write the live value into Git"),
    ):
        action.add_argument(f"--{name}", action="store_true", help=text)
    p.add_argument("-y", "--yes", action="store_true", help="do it without asking")
    _commit_args(p)
    p.add_argument("--dry-run", action="store_true", help="show what it would do, change nothing")
    p.set_defaults(func=LazyVerb("verbs_promote", "cmd_drift"))


def _commit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--branch", default="", help="the new branch (default: gitwave/…)")
    p.add_argument(
        "--push",
        nargs="?",
        const="origin",
        default="",
        metavar="REMOTE",
        help="push the branch to this configured remote (default when given: origin)",
    )
    p.add_argument("-m", "--message", default="", help="the commit message (default: written)")


def rollout_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``gitwave rollout …`` (called once from ``parser``)."""
    rollout = verbs.add_parser(
        "rollout", parents=[common], help="Argo Rollouts: status, promote, abort"
    )
    rverbs = rollout.add_subparsers(dest="rollout_verb", metavar="VERB", required=True)
    p = rverbs.add_parser(
        "status", parents=[common], help="an app's Rollouts: health, step, weight"
    )
    add_app_arg(p)
    p.set_defaults(func=LazyVerb("verbs_rollout", "cmd_rollout_status"))
    p = rverbs.add_parser(
        "promote",
        parents=[common],
        help="promote a paused Rollout (as kubectl argo rollouts promote)",
    )
    add_app_arg(p)
    p.add_argument("rollout", metavar="ROLLOUT", nargs="?", help="[NAMESPACE/]NAME")
    p.add_argument(
        "--full", action="store_true", help="skip the remaining steps, pauses and analysis"
    )
    p.set_defaults(func=LazyVerb("verbs_rollout", "cmd_rollout_promote"))
    p = rverbs.add_parser(
        "abort", parents=[common], help="abort a Rollout (as kubectl argo rollouts abort)"
    )
    add_app_arg(p)
    p.add_argument("rollout", metavar="ROLLOUT", nargs="?", help="[NAMESPACE/]NAME")
    p.set_defaults(func=LazyVerb("verbs_rollout", "cmd_rollout_abort"))


def bootstrap_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``gitwave bootstrap`` (called once from ``parser.build_parser``)."""
    from gitwave.tui.cli.lazy_verbs import cmd_bootstrap

    p = verbs.add_parser(
        "bootstrap",
        parents=[common],
        help="install gitwave into a cluster (--context) and let it manage itself from Git, "
        "as flux bootstrap",
    )
    p.add_argument("repo", metavar="REPO", help="the repository's local work tree (or file://)")
    p.add_argument("path", metavar="PATH", help="the directory in it for this cluster")
    p.add_argument(
        "--branch", default="", help="the branch to follow (default: the checked-out one)"
    )
    p.add_argument("--push", action="store_true", help="push the branch to origin after committing")
    p.set_defaults(func=cmd_bootstrap)


def refresh_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``gitwave refresh APP`` (called once from ``parser.build_parser``)."""
    from gitwave.tui.cli.durations import parse_duration
    from gitwave.tui.cli.lazy_verbs import cmd_refresh

    p = verbs.add_parser(
        "refresh",
        parents=[common],
        help="ask the cluster's gitwave controller (--context) to look at an app again now "
        "(as argocd app get --refresh, flux reconcile)",
    )
    p.add_argument(
        "app_ref",
        metavar="APP",
        help="NAME, NAMESPACE/NAME, KIND/NAME or KIND/NAMESPACE/NAME of an Application, "
        "Kustomization (ks/) or HelmRelease (hr/)",
    )
    p.add_argument(
        "--hard",
        action="store_true",
        help="render the Application afresh, no cached render reused (argocd --hard-refresh); "
        "a Flux object's reconcile always reads its source anew",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="a HelmRelease: release once even with nothing changed, out of Stalled too "
        "(flux reconcile hr --force)",
    )
    p.add_argument(
        "--reset",
        action="store_true",
        help="a HelmRelease: its failure count starts again (flux reconcile hr --reset)",
    )
    p.add_argument("-n", "--namespace", default="", metavar="NS", help="the app's namespace")
    p.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the controller acted, then print the app's sync and health",
    )
    p.add_argument(
        "--timeout",
        type=parse_duration,
        default=300.0,
        metavar="DURATION",
        help="how long to wait for the controller (90s, 5m)",
    )
    p.set_defaults(func=cmd_refresh)


__all__ = [
    "ONE_APP_HELP",
    "add_app_arg",
    "bootstrap_verbs",
    "image_verbs",
    "promote_verbs",
    "refresh_verbs",
    "rollout_verbs",
]


def why_verbs(verbs: Any, common: argparse.ArgumentParser) -> None:
    """``why`` and its arguments (called once from ``parser.build_parser``)."""
    from gitwave.tui.cli import parser as shared  # loaded: it is calling us

    p = verbs.add_parser(
        "why",
        parents=[common],
        help="what an app or one of its objects waits for, down to the object holding it",
    )
    shared.path_args(p)
    shared.create_namespace_arg(p)
    p.add_argument(
        "resource",
        nargs="?",
        metavar="RESOURCE",
        help="NAME, KIND/NAME, KIND/NAMESPACE/NAME or group/KIND/NAMESPACE/NAME (kubectl's "
        "short names too: deploy/web), right after APP; default: every object the app "
        "waits for",
    )
    p.set_defaults(func=LazyVerb("verbs_why", "cmd_why"))


def add_resource_args(parser: argparse.ArgumentParser) -> None:
    """``--resource`` (repeatable), as ``argocd app sync --resource``."""
    parser.add_argument(
        "--resource",
        dest="resource_refs",
        action="append",
        type=_resource_ref,
        metavar="KIND/NAME",
        help="only this object (repeatable): KIND/NAME, KIND/NAMESPACE/NAME or GROUP:KIND:NAME "
        "as argocd writes it (:Service:web for the core group); hooks do not run",
    )


def _resource_ref(text: str) -> ResourceRef:
    # Imported when --resource is given: building the parser stays engine-free.
    import dataclasses

    from gitwave.engine.errors import GitwaveError
    from gitwave.engine.plan_filters import ResourceRef
    from gitwave.tui.cli.kind_aliases import parse_kind_name

    try:
        ref = ResourceRef.parse(text)
    except GitwaveError as exc:  # argparse says it as a usage error (exit 2)
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if ":" in text:
        return ref  # argocd's GROUP:KIND:NAME names the kind exactly
    # kubectl's short names: cm/settings, deploy/web, ns/shop.
    spelled = f"{ref.kind}.{ref.group}" if ref.group else ref.kind
    group, kind, _ = parse_kind_name(f"{spelled}/{ref.name}")
    if kind != ref.kind:
        return dataclasses.replace(ref, kind=kind, group=group)
    return ref


# What -l selects on, per verb, as its help says it (docs/cli-output.md has the table).
SELECTS_APPS = (
    "only the apps whose labels (metadata.labels of the Application or Kustomization) "
    "match, as argocd app list -l"
)
SELECTS_OBJECTS = "only the objects whose labels match, as kubectl get -l"


def add_selector_arg(parser: argparse.ArgumentParser, *, selects: str = SELECTS_APPS) -> None:
    """``-l/--selector``: a Kubernetes label selector (``engine.label_selector``)."""
    parser.add_argument(
        "-l",
        "--selector",
        type=_selector,
        metavar="SELECTOR",
        help=f"{selects}: env=prod,tier!=db, 'env in (prod,staging)', 'tier notin (db)', "
        "team (has the label), '!legacy' (has not); comma-separated, all must hold",
    )


def _selector(text: str) -> LabelSelector:
    # Imported when -l is given: building the parser stays engine-free.
    from gitwave.engine.label_selector import SelectorError, parse_selector

    try:
        return parse_selector(text)
    except SelectorError as exc:  # argparse says it as a usage error (exit 2)
        raise argparse.ArgumentTypeError(str(exc)) from exc

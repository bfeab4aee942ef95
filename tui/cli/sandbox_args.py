"""The arguments of the sandbox verbs (get, scale, edit, kms, aws-exec), seal and
cluster (added by ``parser.build_parser``; each verb's function is imported
when it runs).
"""

from __future__ import annotations

import argparse

from gitwave.providers.sealed_scope import SealingScope
from gitwave.tui.cli.lazy_verbs import (
    cmd_cluster_add,
    cmd_cluster_list,
    cmd_cluster_rm,
    cmd_sandbox_aws_exec,
    cmd_sandbox_edit,
    cmd_sandbox_get,
    cmd_sandbox_kms_create_key,
    cmd_sandbox_scale,
    cmd_seal,
)
from gitwave.tui.cli.parser import _Verbs, at_least
from gitwave.tui.cli.verb_args import SELECTS_OBJECTS, add_selector_arg

# Why a verb takes no --target/--context/--kubeconfig (set as ``targetless``):
# given anyway, they are refused rather than silently ignored.
_SANDBOX_ONLY = "it works on the embedded sandbox only (a named one with --cluster)"


def _sandbox_namespace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        metavar="NS",
        help="namespace of a namespaced kind; cluster-scoped kinds ignore it (default: default)",
    )


def sandbox_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``gitwave sandbox …`` and ``seal`` (called once from ``parser.build_parser``)."""
    sandbox = verbs.add_parser(
        "sandbox", parents=[common], help="look at or change the embedded sandbox by hand"
    )
    sverbs = sandbox.add_subparsers(dest="sandbox_verb", required=True, metavar="COMMAND")
    s = sverbs.add_parser("get", parents=[common], help="list live objects")
    s.add_argument("resource", nargs="?", help="KIND or KIND/NAME")
    s.add_argument("name", nargs="?", help="NAME, as kubectl's KIND NAME")
    _sandbox_namespace_arg(s)
    s.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")
    add_selector_arg(s, selects=SELECTS_OBJECTS)
    s.add_argument("--cluster", help="a named sandbox cluster (`gitwave cluster add --sandbox`)")
    s.set_defaults(func=cmd_sandbox_get, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser("scale", parents=[common], help="change replicas out of band")
    s.add_argument("resource", help="KIND/NAME, e.g. deployment/guestbook-ui")
    s.add_argument("name", nargs="?", help="NAME, as kubectl's KIND NAME")
    _sandbox_namespace_arg(s)
    s.add_argument("--replicas", type=at_least(0), required=True, help="the new replica count")
    s.add_argument("--cluster", help="a named sandbox cluster")
    s.set_defaults(func=cmd_sandbox_scale, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser("edit", parents=[common], help="edit a live object in $EDITOR")
    s.add_argument("resource", help="KIND/NAME")
    s.add_argument("name", nargs="?", help="NAME, as kubectl's KIND NAME")
    _sandbox_namespace_arg(s)
    s.add_argument("--cluster", help="a named sandbox cluster")
    s.set_defaults(func=cmd_sandbox_edit, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser("kms", parents=[common], help="KMS keys in the embedded AWS emulator")
    kverbs = s.add_subparsers(dest="kms_verb", required=True, metavar="COMMAND")
    k = kverbs.add_parser(
        "create-key", parents=[common], help="make a key for `sops --kms` and print its ARN"
    )
    k.add_argument("--alias", help="also name it alias/NAME")
    k.set_defaults(func=cmd_sandbox_kms_create_key, targetless=_SANDBOX_ONLY)
    s = sverbs.add_parser(
        "aws-exec",
        parents=[common],
        help="run a command (e.g. sops --encrypt --kms ARN) against the embedded AWS emulator",
    )
    s.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    s.set_defaults(func=cmd_sandbox_aws_exec, targetless=_SANDBOX_ONLY)
    _seal_verb(verbs, common)


def _seal_verb(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = verbs.add_parser(
        "seal",
        parents=[common],
        help="seal a Secret into a SealedSecret (kubeseal's format; the sandbox's key)",
    )
    p.add_argument("-f", "--file", default="-", help="the Secret to seal (default: stdin)")
    p.add_argument(
        "--scope",
        choices=[s.value for s in SealingScope],
        help="where it may be unsealed (default: strict, or the Secret's scope annotation)",
    )
    p.add_argument("--cert", metavar="FILE", help="seal for this controller certificate (PEM)")
    p.add_argument(
        "-n", "--namespace", default="", help="namespace when the Secret names none (default)"
    )
    p.add_argument(
        "--fetch-cert", action="store_true", help="print the sandbox's certificate and exit"
    )
    p.set_defaults(
        func=cmd_seal, targetless="it seals for the sandbox's key, or for --cert's certificate"
    )


def cluster_verbs(verbs: _Verbs[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``gitwave cluster add|list|rm`` (called once from ``parser.build_parser``)."""
    cluster = verbs.add_parser(
        "cluster", parents=[common], help="the clusters apps can name as their destination"
    )
    cverbs = cluster.add_subparsers(dest="cluster_verb", required=True, metavar="COMMAND")
    c = cverbs.add_parser("add", parents=[common], help="register a cluster")
    c.add_argument("name", help="the name apps use (Argo CD destination.name)")
    c.add_argument("--server", help="its API server URL (destination.server)")
    # --context CTX (the global flag: reach it through that kubeconfig context) or:
    c.add_argument("--sandbox", action="store_true", help="a named sandbox cluster")
    c.add_argument("--label", action="append", metavar="KEY=VALUE", help="a label (repeatable)")
    c.add_argument(
        "--namespace", action="append", metavar="NS", help="limit apps to these namespaces"
    )
    c.add_argument("--replace", action="store_true", help="replace an entry of that name")
    c.set_defaults(func=cmd_cluster_add)
    c = cverbs.add_parser("list", parents=[common], help="every known cluster (no credentials)")
    c.add_argument("path", nargs="?", help="also the Argo CD cluster Secrets in this directory")
    add_selector_arg(c, selects="only the clusters whose labels match (cluster add --label)")
    c.set_defaults(func=cmd_cluster_list)
    c = cverbs.add_parser("rm", parents=[common], help="forget a registered cluster")
    c.add_argument("name", help="the registered cluster's name")
    c.set_defaults(func=cmd_cluster_rm)

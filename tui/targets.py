"""Which targets a command reconciles into, built from its flags.

The Kubernetes side is the sandbox (default) or a cluster (``--context``);
an app whose destination is another cluster gets that cluster's router
(``connect_cluster``: a named sandbox, a kubeconfig context, or the
credentials of a cluster Secret).
Cloud kinds go to the AWS target (``gitwave.providers.aws.AwsTarget``; for an
app on another cluster, its view that writes connection Secrets there), which
starts its provider only when an app has some: on the sandbox with no
ProviderConfig it is an embedded emulator that gitwave starts itself (and
every output says so); otherwise real AWS through boto3's usual credential
chain, or the endpoint a ProviderConfig names. This module only wires the
providers up; what each does lives in ``gitwave.providers``.
"""

from __future__ import annotations

from pathlib import Path

from gitwave.engine.fleet import Reach
from gitwave.engine.private_files import private_directory
from gitwave.engine.provider import Provider
from gitwave.engine.router import ProviderRouter
from gitwave.providers.aws import AwsTarget
from gitwave.providers.sandbox import SandboxProvider


def build_targets(
    *, state_dir: Path, kube_side: Provider, embedded_aws: bool
) -> tuple[list[Provider], AwsTarget]:
    """The providers of one command, cloud first (its kinds are the narrower set)."""
    aws = AwsTarget(kube_side=kube_side, state_dir=state_dir, embedded=embedded_aws)
    return [aws, kube_side], aws


def connect_cluster(
    reach: Reach,
    *,
    aws: AwsTarget,
    kubeconfig: str | None,
    allow_exec_plugins: bool,
    rollout_seconds: float,
) -> tuple[ProviderRouter, Provider]:
    """The router of one destination cluster and its Kubernetes-side provider
    (the caller closes it). Cloud kinds go to the command's AWS (one account, one
    emulator), their connection Secrets to this cluster (``AwsTarget.for_cluster``).
    Contacts nothing: the first operation does."""
    kube_side: Provider
    if reach.sandbox_dir is not None:
        sandbox = SandboxProvider(
            private_directory(reach.sandbox_dir), rollout_seconds=rollout_seconds
        )
        sandbox.name = f"sandbox:{reach.cluster.name}"
        kube_side = sandbox
    elif reach.credentials is not None:
        from gitwave.providers.kubernetes import KubernetesProvider

        kube_side = KubernetesProvider.from_config(
            reach.credentials.kubeconfig,
            name=f"kube:{reach.cluster.name}",
            subject=reach.credentials.subject,
            allow_exec_plugins=allow_exec_plugins,
        )
    else:
        from gitwave.providers.kubernetes import KubernetesProvider

        kube_side = KubernetesProvider.from_kubeconfig(
            context=reach.context or None,
            kubeconfig=reach.kubeconfig or kubeconfig,
            allow_exec_plugins=allow_exec_plugins,
        )
    return ProviderRouter([aws.for_cluster(kube_side), kube_side], cluster=reach.cluster), kube_side

"""Which targets a command reconciles into, built from its flags.

The Kubernetes side is the sandbox (default) or a cluster (``--context``).
Cloud kinds go to the AWS target (``gitwave.providers.aws.AwsTarget``), which
starts its provider only when an app has some: on the sandbox with no
ProviderConfig it is an embedded emulator that gitwave starts itself (and
every output says so); otherwise real AWS through boto3's usual credential
chain, or the endpoint a ProviderConfig names. This module only wires the
providers up; what each does lives in ``gitwave.providers``.
"""

from __future__ import annotations

from pathlib import Path

from gitwave.engine.provider import Provider
from gitwave.providers.aws import AwsTarget


def build_targets(
    *, state_dir: Path, kube_side: Provider, embedded_aws: bool
) -> tuple[list[Provider], AwsTarget]:
    """The providers of one command, cloud first (its kinds are the narrower set)."""
    aws = AwsTarget(kube_side=kube_side, state_dir=state_dir, embedded=embedded_aws)
    return [aws, kube_side], aws

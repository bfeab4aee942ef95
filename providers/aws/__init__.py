"""The AWS target: Crossplane provider-aws managed resources, reconciled with boto3.

``AwsProvider`` implements the Provider protocol for the kinds in ``kinds``
(DBInstance, DBSubnetGroup, SecurityGroup, Queue, Bucket, ResourceRecordSet,
MetricAlarm); ``AwsConfig`` says where and as whom; ``embedded_moto`` starts
the emulator the sandbox uses when no ProviderConfig is given; ``AwsTarget``
is the provider as a command uses it: started on first use, configured by the
repo's ``ProviderConfig``s.

The names are loaded on first use (PEP 562): boto3 and botocore take most of
a second to import, and a command that never meets a cloud object (or only
wires ``AwsTarget`` up) should not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitwave.providers.aws.config import AwsConfig, AwsCredentials, SecretReader
    from gitwave.providers.aws.connection import SecretWriter
    from gitwave.providers.aws.embedded import EmbeddedAws, embedded_moto
    from gitwave.providers.aws.managed import ANNOTATION_EXTERNAL_NAME
    from gitwave.providers.aws.provider import AwsProvider
    from gitwave.providers.aws.record import TAG_APP, TAG_KEY, TAG_OWNER
    from gitwave.providers.aws.target import AwsTarget

# Where each public name lives (module under gitwave.providers.aws).
_HOMES = {
    "ANNOTATION_EXTERNAL_NAME": "managed",
    "TAG_APP": "record",
    "TAG_KEY": "record",
    "TAG_OWNER": "record",
    "AwsConfig": "config",
    "AwsCredentials": "config",
    "AwsProvider": "provider",
    "AwsTarget": "target",
    "EmbeddedAws": "embedded",
    "SecretReader": "config",
    "SecretWriter": "connection",
    "embedded_moto": "embedded",
}

__all__ = [
    "ANNOTATION_EXTERNAL_NAME",
    "TAG_APP",
    "TAG_KEY",
    "TAG_OWNER",
    "AwsConfig",
    "AwsCredentials",
    "AwsProvider",
    "AwsTarget",
    "EmbeddedAws",
    "SecretReader",
    "SecretWriter",
    "embedded_moto",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

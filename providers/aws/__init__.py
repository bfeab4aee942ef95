"""The AWS target: Crossplane provider-aws managed resources, reconciled with boto3.

``AwsProvider`` implements the Provider protocol for the kinds in ``kinds``
(DBInstance, DBSubnetGroup, SecurityGroup, Queue, Bucket, ResourceRecordSet,
MetricAlarm); ``AwsConfig`` says where and as whom; ``embedded_moto`` starts
the emulator the sandbox uses when no ProviderConfig is given.
"""

from gitwave.providers.aws.config import AwsConfig, AwsCredentials, SecretReader
from gitwave.providers.aws.connection import SecretWriter
from gitwave.providers.aws.embedded import EmbeddedAws, embedded_moto
from gitwave.providers.aws.kinds import register_health_checks
from gitwave.providers.aws.managed import ANNOTATION_EXTERNAL_NAME
from gitwave.providers.aws.provider import AwsProvider
from gitwave.providers.aws.record import TAG_APP, TAG_KEY, TAG_OWNER

__all__ = [
    "ANNOTATION_EXTERNAL_NAME",
    "TAG_APP",
    "TAG_KEY",
    "TAG_OWNER",
    "AwsConfig",
    "AwsCredentials",
    "AwsProvider",
    "EmbeddedAws",
    "SecretReader",
    "SecretWriter",
    "embedded_moto",
    "register_health_checks",
]

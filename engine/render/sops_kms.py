"""Where sops reaches AWS KMS: the AWS endpoint gitwave itself uses for the app.

A sops file whose metadata lists ``kms`` ARNs is decrypted by sops' AWS SDK.
Without more it would reach real AWS (or whatever ``AWS_ENDPOINT_URL*`` of
gitwave's environment names), even when gitwave's AWS side is a Crossplane
``ProviderConfig`` endpoint or the sandbox's embedded emulator. The target
that knows that endpoint offers it as a ``KmsEndpoint`` (an optional
``kms_endpoint()`` method of a provider, found by ``render_for``); it is asked
lazily, only when a file to decrypt names a KMS key, so the emulator starts
only then. The engine never imports the AWS provider: the seam is this value.

The endpoint and its credentials go to the sops subprocess only. An explicit
``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_KMS`` of gitwave's environment wins
(the user said where KMS is); credentials from Flux's ``decryption.secretRef``
are applied after these and so win too. Nothing here comes from Git.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

# What sops writes for a KMS master key (``arn: arn:aws:kms:REGION:ACCOUNT:key/…``,
# also in the aws-cn / aws-us-gov partitions), in YAML or JSON metadata.
_KMS_ARN = re.compile(r"arn:aws[a-z-]*:kms:")
_EXPLICIT_ENDPOINT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS")


@dataclass(frozen=True)
class KmsEndpoint:
    """The AWS endpoint (and credentials for it) sops uses for KMS; ``source``
    names it in messages (``embedded emulator``, ``ProviderConfig/default``)."""

    url: str
    source: str
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def secret_values(self) -> tuple[str, ...]:
        """The secret parts, for redaction from sops' messages."""
        return tuple(v for v in (self.secret_access_key, self.session_token) if v)

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` pointed at this endpoint, unless ``base`` names one itself."""
        env = dict(base)
        if any(env.get(name) for name in _EXPLICIT_ENDPOINT):
            return env
        env["AWS_ENDPOINT_URL_KMS"] = self.url
        if self.region and not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")):
            env["AWS_REGION"] = self.region
        if self.access_key_id and self.secret_access_key:
            env["AWS_ACCESS_KEY_ID"] = self.access_key_id
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
            env.pop("AWS_SESSION_TOKEN", None)
            if self.session_token:
                env["AWS_SESSION_TOKEN"] = self.session_token
            # These credentials belong to this endpoint, not to a profile of the user's.
            env.pop("AWS_PROFILE", None)
        return env


def names_kms_key(text: str) -> bool:
    """True when an encrypted file's text lists an AWS KMS master key."""
    return _KMS_ARN.search(text) is not None


KmsSource = Callable[[], "KmsEndpoint | None"]

_CURRENT: ContextVar[KmsSource | None] = ContextVar("gitwave_sops_kms", default=None)


@contextlib.contextmanager
def using_kms(source: KmsSource | None) -> Iterator[None]:
    """Make ``source`` what sops asks for a KMS endpoint in this block (this thread)."""
    token = _CURRENT.set(source)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_kms(environ: Mapping[str, str]) -> KmsEndpoint | None:
    """The endpoint the source set by ``using_kms`` offers (it may start an
    emulator); None, without asking, when ``environ`` names an endpoint itself."""
    source = _CURRENT.get()
    if source is None or any(environ.get(name) for name in _EXPLICIT_ENDPOINT):
        return None
    return source()


__all__ = ["KmsEndpoint", "KmsSource", "current_kms", "names_kms_key", "using_kms"]

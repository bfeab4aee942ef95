"""boto3 clients, and AWS errors turned into gitwave's typed errors.

One boto3 session per ``AwsConfig`` (sessions are not thread-safe, so they
are only touched under a lock); clients are cached per config, service and
region and shared by threads, as boto3 allows. Every call goes through
``Client.call``, which maps botocore's exceptions: "not found" codes a caller
names become None, throttling is retriable, an unreachable endpoint is an
UnreachableError, and any secret passed in is scrubbed from the message.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from gitwave.engine.api import redact
from gitwave.engine.errors import ProviderError, UnreachableError
from gitwave.engine.model import ResourceKey

from .config import AwsConfig

_THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_AUTH = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "AuthFailure",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
    }
)
# The resource is in the middle of something (a dependent still being deleted).
_BUSY = frozenset(
    {
        "DependencyViolation",
        "InvalidDBInstanceState",
        "InvalidDBInstanceStateFault",
        "InvalidDBSubnetGroupStateFault",
        "OperationAborted",
        "ResourceInUse",
    }
)
_UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectionClosedError,
)

CREDENTIALS_HINT = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or point "
    "spec.providerConfigRef at a ProviderConfig with credentials"
)
REGION_HINT = (
    "set spec.forProvider.region, AWS_REGION or AWS_DEFAULT_REGION, or give the "
    "provider a default region"
)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def missing_credentials(key: ResourceKey | None, config: AwsConfig) -> ProviderError:
    error = ProviderError(
        key, f"no AWS credentials found (provider config {config.name!r}): {CREDENTIALS_HINT}"
    )
    error.hint = CREDENTIALS_HINT
    return error


@dataclass(frozen=True, slots=True)
class Client:
    """A boto3 client for one service and region, with error mapping."""

    raw: Any
    service: str
    region: str
    config: AwsConfig

    @property
    def where(self) -> str:
        endpoint = f" at {self.config.endpoint_url}" if self.config.endpoint_url else ""
        return f"AWS {self.service} in {self.region}{endpoint}"

    def call(
        self,
        key: ResourceKey | None,
        operation: str,
        /,
        *,
        missing: Collection[str] = (),
        secrets: Iterable[str] = (),
        **params: Any,
    ) -> Any:
        """``client.<operation>(**params)``; None when AWS answers with one of
        the ``missing`` error codes. Raises ProviderError or UnreachableError."""
        hidden = tuple(s for s in secrets if s)
        try:
            return getattr(self.raw, operation)(**params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in missing:
                return None
            raise self._error(key, operation, exc, hidden) from (None if hidden else exc)
        except _UNREACHABLE as exc:
            raise UnreachableError(self.where, redact(str(exc), hidden)) from None
        except botocore.exceptions.NoCredentialsError:
            raise missing_credentials(key, self.config) from None
        except botocore.exceptions.ParamValidationError as exc:
            # botocore quotes the offending value, which may be the password.
            raise ProviderError(
                key, f"{self.service}.{operation}: {redact(str(exc), hidden)}"
            ) from None

    def _error(
        self,
        key: ResourceKey | None,
        operation: str,
        exc: botocore.exceptions.ClientError,
        hidden: tuple[str, ...],
    ) -> ProviderError:
        code = error_code(exc)
        message = redact(str(exc.response.get("Error", {}).get("Message") or code), hidden)
        detail = f"{self.service}.{operation}: {code}: {message}"
        if code in _THROTTLING:
            return ProviderError(
                key, f"{detail} (throttled; trying again later can help)", retriable=True
            )
        if code in _BUSY:
            return ProviderError(
                key, f"{detail} (busy; trying again later can help)", retriable=True
            )
        error = ProviderError(key, detail)
        if code in _AUTH:
            error.hint = f"check the credentials and IAM permissions for {self.where}"
        return error

    def pages(
        self,
        key: ResourceKey | None,
        operation: str,
        /,
        *,
        missing: Collection[str] = (),
        **params: Any,
    ) -> Iterable[Any]:
        """Every page of a paginated ``operation``."""
        try:
            paginator = self.raw.get_paginator(operation)
            yield from paginator.paginate(**params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in missing:
                return
            raise self._error(key, operation, exc, ()) from exc
        except _UNREACHABLE as exc:
            raise UnreachableError(self.where, str(exc)) from None
        except botocore.exceptions.NoCredentialsError:
            raise missing_credentials(key, self.config) from None


class Clients:
    """Sessions and clients for a set of provider configs, cached and thread-safe."""

    def __init__(self, configs: dict[str, AwsConfig]) -> None:
        self._configs = configs
        self._lock = threading.Lock()
        self._sessions: dict[str, Any] = {}
        self._clients: dict[tuple[str, str, str], Client] = {}

    def names(self) -> list[str]:
        return sorted(self._configs)

    def config(self, key: ResourceKey | None, name: str) -> AwsConfig:
        config = self._configs.get(name)
        if config is None:
            known = ", ".join(sorted(self._configs)) or "none"
            error = ProviderError(key, f"providerConfigRef {name!r} is not known (known: {known})")
            error.hint = "add that ProviderConfig or point spec.providerConfigRef at a known one"
            raise error
        return config

    def default_region(self, name: str) -> str | None:
        """The config's region, else what boto3 finds (AWS_REGION, …, the profile)."""
        config = self._configs.get(name)
        if config is None:
            return None
        if config.region:
            return config.region
        with self._lock:
            session = self._session(name, config)
        region = session.region_name
        return str(region) if region else None

    def check_credentials(self, key: ResourceKey | None, name: str) -> None:
        """ProviderError naming ``key`` and what to set when no credentials can be found."""
        config = self.config(key, name)
        if config.anonymous or config.credentials is not None:
            return
        with self._lock:
            session = self._session(name, config)
        try:
            found = session.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:
            raise ProviderError(key, f"cannot load AWS credentials: {exc}") from None
        if found is None:
            raise missing_credentials(key, config)

    def client(self, key: ResourceKey | None, name: str, service: str, region: str) -> Client:
        config = self.config(key, name)
        cache_key = (name, service, region)
        with self._lock:
            cached = self._clients.get(cache_key)
            if cached is not None:
                return cached
            session = self._session(name, config)
            options = Config(
                region_name=region,
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 4, "mode": "standard"},
                signature_version=UNSIGNED if config.anonymous else None,
                # Path-style works with every endpoint, an emulator's included.
                s3={"addressing_style": "path"} if config.endpoint_url else None,
            )
            try:
                raw = session.client(service, endpoint_url=config.endpoint_url, config=options)
            except botocore.exceptions.BotoCoreError as exc:
                raise ProviderError(key, f"cannot create an AWS {service} client: {exc}") from None
            client = Client(raw, service, region, config)
            self._clients[cache_key] = client
            return client

    def _session(self, name: str, config: AwsConfig) -> Any:
        session = self._sessions.get(name)
        if session is None:
            creds = config.credentials
            try:
                session = boto3.session.Session(
                    aws_access_key_id=creds.access_key_id if creds else None,
                    aws_secret_access_key=creds.secret_access_key if creds else None,
                    aws_session_token=creds.session_token if creds else None,
                    profile_name=config.profile if not creds else None,
                    region_name=config.region,
                )
            except botocore.exceptions.ProfileNotFound as exc:
                raise ProviderError(None, f"AWS profile not found: {exc}") from None
            self._sessions[name] = session
        return session

"""How gitwave reaches AWS: region, endpoint and credentials.

``AwsConfig`` is a value; credentials come from boto3's usual chain
(environment, ``~/.aws``, instance roles) unless they are given. A Crossplane
``ProviderConfig`` (``aws.crossplane.io/v1beta1``) translates into one with
``AwsConfig.from_provider_config``. Secret parts never show in a repr.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitwave.engine.errors import ValidationError

PROVIDER_CONFIG_API_VERSION = "aws.crossplane.io/v1beta1"
PROVIDER_CONFIG_KIND = "ProviderConfig"

# (namespace, name, key) → the value of that key of a Secret, or None when absent.
SecretReader = Callable[[str, str, str], "str | None"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsCredentials:
    """Static credentials. The secret key and the session token never show in a repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_ini(cls, text: str, *, profile: str = "default", where: str) -> AwsCredentials:
        """Parse an AWS shared-credentials file (Crossplane's Secret format).

        Raises ValidationError naming ``where`` when the profile or a key is missing.
        """
        import configparser  # a Crossplane credentials Secret is rare: not at every start

        parser = configparser.ConfigParser()
        try:
            parser.read_string(text)
        except configparser.Error:
            # The parser's message quotes the offending line, which may be a secret.
            raise ValidationError(
                where, "is not an AWS credentials file ([default] with aws_access_key_id …)"
            ) from None
        if not parser.has_section(profile):
            raise ValidationError(where, f"has no [{profile}] section")
        section = parser[profile]
        access, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
        if not access or not secret:
            raise ValidationError(
                where, f"[{profile}] needs aws_access_key_id and aws_secret_access_key"
            )
        return cls(
            access_key_id=access.strip(),
            secret_access_key=secret.strip(),
            session_token=(section.get("aws_session_token") or "").strip() or None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsConfig:
    """Where and as whom gitwave talks to AWS.

    ``region`` is the default for resources without ``forProvider.region``
    (None: boto3's ``AWS_REGION``/``AWS_DEFAULT_REGION``/profile). ``anonymous``
    sends unsigned requests (Crossplane's ``credentials.source: None``).
    ``description`` is what the CLI and the TUI print for this target.
    """

    region: str | None = None
    endpoint_url: str | None = None
    credentials: AwsCredentials | None = None
    profile: str | None = None
    anonymous: bool = False
    name: str = "default"
    description: str = ""

    @property
    def display(self) -> str:
        """``AWS: …``, one line for people."""
        if self.description:
            return self.description
        where = f"region {self.region}" if self.region else "region from the environment"
        if self.endpoint_url:
            where += f", endpoint {self.endpoint_url}"
        if self.credentials is not None:
            who = "static credentials"
        elif self.anonymous:
            who = "no credentials"
        elif self.profile:
            who = f"profile {self.profile}"
        else:
            who = "credentials from the environment"
        return f"AWS: {where} ({who})"

    @classmethod
    def from_provider_config(
        cls,
        manifest: Mapping[str, Any],
        *,
        secret_reader: SecretReader | None = None,
        region: str | None = None,
    ) -> AwsConfig:
        """Translate a Crossplane ProviderConfig (``aws.crossplane.io/v1beta1``).

        ``spec.credentials.source`` may be ``Secret`` (``secretRef`` to a
        shared-credentials file, read through ``secret_reader``),
        ``InjectedIdentity`` (boto3's chain), ``Environment`` (``env.name``
        holds the file), ``Filesystem`` (``fs.path``) or ``None``.
        ``spec.endpoint.url`` is Crossplane's ``{type: Static, static: URL}`` or
        simply a URL string. Raises ValidationError naming the ProviderConfig.
        """
        name = str(_map(manifest.get("metadata")).get("name") or "")
        where = f"ProviderConfig/{name or '?'}"
        if manifest.get("apiVersion") != PROVIDER_CONFIG_API_VERSION or (
            manifest.get("kind") != PROVIDER_CONFIG_KIND
        ):
            raise ValidationError(
                where,
                f"expected {PROVIDER_CONFIG_API_VERSION} {PROVIDER_CONFIG_KIND}, got "
                f"{manifest.get('apiVersion')} {manifest.get('kind')}",
            )
        if not name:
            raise ValidationError(where, "metadata.name is required")
        spec = _map(manifest.get("spec"))
        credentials = _map(spec.get("credentials"))
        source = credentials.get("source")
        static: AwsCredentials | None = None
        anonymous = False
        if source == "Secret":
            ref = _map(credentials.get("secretRef"))
            parts = (ref.get("namespace"), ref.get("name"), ref.get("key"))
            if not all(isinstance(p, str) and p for p in parts):
                raise ValidationError(
                    where, "spec.credentials.secretRef needs a namespace, a name and a key"
                )
            namespace, secret, key = (str(p) for p in parts)
            if secret_reader is None:
                raise ValidationError(
                    where, "credentials come from a Secret, but no Secret reader was given"
                )
            text = secret_reader(namespace, secret, key)
            if text is None:
                raise ValidationError(
                    where,
                    f"spec.credentials.secretRef: Secret {namespace}/{secret} has no key {key!r}",
                    hint="create that Secret with an AWS credentials file under that key",
                )
            static = AwsCredentials.from_ini(text, where=f"Secret {namespace}/{secret}[{key}]")
        elif source == "Environment":
            variable = str(_map(credentials.get("env")).get("name") or "")
            if not variable:
                raise ValidationError(where, "spec.credentials.env.name is required")
            text = os.environ.get(variable)
            if text is None:
                raise ValidationError(where, f"environment variable {variable} is not set")
            static = AwsCredentials.from_ini(text, where=f"${variable}")
        elif source == "Filesystem":
            path = str(_map(credentials.get("fs")).get("path") or "")
            if not path:
                raise ValidationError(where, "spec.credentials.fs.path is required")
            try:
                text = Path(path).read_text()
            except OSError as exc:
                raise ValidationError(where, f"cannot read {path}: {exc.strerror}") from None
            static = AwsCredentials.from_ini(text, where=path)
        elif source == "None":
            anonymous = True
        elif source != "InjectedIdentity":
            raise ValidationError(
                where,
                f"spec.credentials.source {source!r} is not supported "
                "(use Secret, InjectedIdentity, Environment, Filesystem or None)",
            )
        return cls(
            region=region,
            endpoint_url=_endpoint_url(where, spec.get("endpoint")),
            credentials=static,
            anonymous=anonymous,
            name=name,
        )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _endpoint_url(where: str, endpoint: Any) -> str | None:
    if endpoint is None:
        return None
    url = _map(endpoint).get("url")
    if isinstance(url, Mapping):
        kind = url.get("type", "Static")
        if kind != "Static":
            raise ValidationError(
                where, f"spec.endpoint.url.type {kind!r} is not supported (use Static)"
            )
        url = url.get("static")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValidationError(where, "spec.endpoint.url must be an http(s) URL")
    return url

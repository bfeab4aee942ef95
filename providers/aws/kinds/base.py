"""The shape of one AWS kind: what every per-kind module implements.

A kind module holds one ``KindHandler`` subclass that talks to one AWS API
(describe, create, update, delete, tag) and translates between AWS's shapes
and Crossplane's ``forProvider``/``atProvider``, plus its health check. The
provider does everything that is the same for every kind: parsing, policies,
ownership, tags, dry runs, the Live object.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest, ResourceKey

from ..clients import Client
from ..record import user_tags
from .translate import matches, tag_list


class Readiness(enum.Enum):
    """Crossplane's Ready condition reasons."""

    AVAILABLE = "Available"
    CREATING = "Creating"
    DELETING = "Deleting"
    UNAVAILABLE = "Unavailable"

    @property
    def ready(self) -> bool:
        return self is Readiness.AVAILABLE

    def condition(self, message: str = "") -> dict[str, Any]:
        condition: dict[str, Any] = {
            "type": "Ready",
            "status": "True" if self.ready else "False",
            "reason": self.value,
        }
        if message:
            condition["message"] = message
        return condition


class TagStyle(enum.Enum):
    """Where a kind keeps its user tags in ``forProvider``."""

    LIST = "list"  # tags: [{key, value}]  (RDS, EC2)
    MAP = "map"  # tags: {key: value}  (SQS, CloudWatch)
    TAG_SET = "tagSet"  # tagging: {tagSet: [{key, value}]}  (S3)
    NONE = "none"  # the kind has no user tags (Route 53 records)

    @property
    def field(self) -> str | None:
        return {TagStyle.LIST: "tags", TagStyle.MAP: "tags", TagStyle.TAG_SET: "tagging"}.get(self)

    def read(self, key: ResourceKey, for_provider: Mapping[str, Any]) -> dict[str, str] | None:
        """The user tags ``for_provider`` asks for; None when it does not set them."""
        name = self.field
        if name is None or name not in for_provider:
            return None
        value = for_provider[name]
        if self is TagStyle.MAP:
            if not isinstance(value, Mapping):
                raise ProviderError(key, f"spec.forProvider.{name} must be a map")
            return {str(k): str(v) for k, v in value.items()}
        if self is TagStyle.TAG_SET:
            value = value.get("tagSet") if isinstance(value, Mapping) else None
        if not isinstance(value, list):
            raise ProviderError(key, f"spec.forProvider.{name} must be a list of {{key, value}}")
        tags: dict[str, str] = {}
        for item in value:
            if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
                raise ProviderError(key, f"spec.forProvider.{name}: each tag needs a key")
            tags[item["key"]] = str(item.get("value", ""))
        return tags

    def show(self, tags: Mapping[str, str]) -> dict[str, Any]:
        """The ``forProvider`` entry for the user tags among ``tags``."""
        mine = sorted(user_tags(tags).items())
        if self is TagStyle.MAP:
            return {"tags": dict(mine)}
        if self is TagStyle.LIST:
            return {"tags": [{"key": k, "value": v} for k, v in mine]}
        if self is TagStyle.TAG_SET:
            return {"tagging": {"tagSet": [{"key": k, "value": v} for k, v in mine]}}
        return {}


class FieldType(enum.Enum):
    """The type of a scalar ``forProvider`` field, as Crossplane's CRD declares it.

    A value of another type is refused naming the field before any AWS call
    (the API server refuses it for a real Crossplane provider too)."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    STRING = "string"
    STRING_LIST = "list of strings"

    def accepts(self, value: Any) -> bool:
        """True when ``value`` (as parsed from YAML) is of this type."""
        if self is FieldType.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool)
        if self is FieldType.NUMBER:
            return isinstance(value, int | float) and not isinstance(value, bool)
        if self is FieldType.BOOLEAN:
            return isinstance(value, bool)
        if self is FieldType.STRING:
            return isinstance(value, str)
        return isinstance(value, list) and all(isinstance(v, str) for v in value)


def field_type_problems(
    types: Mapping[str, FieldType], for_provider: Mapping[str, Any]
) -> list[str]:
    """``spec.forProvider.X must be …, not …`` for each field of the wrong type, sorted."""
    problems = []
    for name in sorted(types):
        value = for_provider.get(name)
        wanted = types[name]
        if value is not None and not wanted.accepts(value):
            shown = repr(value) if isinstance(value, str | int | float) else type(value).__name__
            article = "a list" if wanted is FieldType.STRING_LIST else f"a {wanted.value}"
            if wanted is FieldType.INTEGER:
                article = "a whole number"
            problems.append(f"spec.forProvider.{name} must be {article}, not {shown}")
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """One AWS resource as a kind handler read it.

    ``for_provider`` holds what AWS reports, in Crossplane's shape (user tags
    included, never a secret); ``tags`` holds every tag, gitwave's included.
    ``handle`` is whatever later calls need (a queue URL, a hosted zone id).
    """

    external_name: str
    region: str
    for_provider: Mapping[str, Any]
    at_provider: Mapping[str, Any]
    tags: Mapping[str, str]
    readiness: Readiness = Readiness.AVAILABLE
    message: str = ""
    created: str = ""
    connection: Mapping[str, str] = field(default_factory=dict)
    handle: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Desired:
    """What to create or update: ``for_provider`` as written in Git, the full
    tag set to write, and the master password where a kind needs one."""

    key: ResourceKey
    external_name: str | None
    region: str
    for_provider: Mapping[str, Any]
    tags: Mapping[str, str]
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Context:
    """What a handler needs for one call: the object's key and a client."""

    key: ResourceKey
    client: Client

    @property
    def region(self) -> str:
        return self.client.region

    def call(self, operation: str, /, **params: Any) -> Any:
        return self.client.call(self.key, operation, **params)


class KindHandler(abc.ABC):
    """One managed-resource kind. Subclasses set the class attributes and
    implement the AWS calls; see the module docstring."""

    group: ClassVar[str]
    kind: ClassVar[str]
    version: ClassVar[str]
    service: ClassVar[str]
    # The forProvider field that names the AWS region (None: a global service).
    region_field: ClassVar[str | None] = "region"
    # True when AWS assigns the name (a security group id): found by tags.
    named_by_aws: ClassVar[bool] = False
    # True when one listing covers every region (S3 buckets, Route 53 zones).
    global_listing: ClassVar[bool] = False
    tag_style: ClassVar[TagStyle] = TagStyle.LIST
    # Every forProvider field this kind supports.
    fields: ClassVar[frozenset[str]]
    # Fields AWS never reports back; kept in gitwave's record tag.
    write_only: ClassVar[frozenset[str]] = frozenset()
    # Fields AWS cannot change in place.
    immutable: ClassVar[frozenset[str]] = frozenset()
    required: ClassVar[frozenset[str]] = frozenset()
    # List fields whose order means nothing (compared as sets).
    unordered: ClassVar[frozenset[str]] = frozenset()
    # True when creating needs a master password (``Desired.password``), and the
    # forProvider fields that reference it or ask for one to be generated.
    needs_password: ClassVar[bool] = False
    password_ref_field: ClassVar[str] = "masterUserPasswordSecretRef"
    autogenerate_field: ClassVar[str] = "autogeneratePassword"
    # forProvider fields that name another managed resource by its external
    # name (a string, or a list of them) → that resource's (group, kind). What
    # uses another resource is deleted before it.
    names_others: ClassVar[Mapping[str, tuple[str, str]]] = {}
    # The type of each scalar field (and list of strings), checked before any call.
    types: ClassVar[Mapping[str, FieldType]] = {}

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    # ------------------------------------------------------------ AWS calls

    @abc.abstractmethod
    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        """The resource named ``external_name``; None when it does not exist.

        ``hint`` is the forProvider gitwave knows for it (desired or last
        seen), for kinds whose name alone does not identify it."""

    def find_owned(self, ctx: Context, owner_key: str, hint: Mapping[str, Any]) -> Observed | None:
        """The resource whose ``gitwave.dev/key`` tag is ``owner_key`` (for kinds
        named by AWS, so an interrupted create is found again)."""
        return None

    @abc.abstractmethod
    def scan(self, ctx: Context, app: str) -> list[Observed]:
        """Every resource of this kind tagged ``gitwave.dev/app: <app>``."""

    @abc.abstractmethod
    def create(self, ctx: Context, desired: Desired) -> str:
        """Create the resource, tags included; returns its external name."""

    @abc.abstractmethod
    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        """Change the ``changed`` forProvider fields (tags excepted) in place."""

    @abc.abstractmethod
    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        """Delete the resource; ``inputs`` are its recorded write-only fields."""

    @abc.abstractmethod
    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        """Set the ``put`` tags and remove the ``remove`` ones."""

    # ------------------------------------------------------------ pure parts

    @abc.abstractmethod
    def health(self, manifest: Manifest) -> Health:
        """The health of a Live manifest of this kind (pure)."""

    def check(self, key: ResourceKey, for_provider: Mapping[str, Any]) -> None:  # noqa: B027
        """ProviderError when ``for_provider`` is malformed for this kind (beyond
        unknown and missing fields, which the provider checks). Nothing by default."""

    def same(self, name: str, want: Any, have: Any) -> bool:
        """Whether the desired value of field ``name`` is what AWS has."""
        return matches(want, have, unordered=name in self.unordered)

    def uses(self, for_provider: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """(group, kind, external name) of each resource ``for_provider`` names
        (``names_others``); kinds that name others elsewhere override this."""
        found: list[tuple[str, str, str]] = []
        for name, (group, kind) in self.names_others.items():
            value = for_provider.get(name)
            values = value if isinstance(value, list) else [value]
            found.extend((group, kind, v) for v in values if isinstance(v, str) and v)
        return found

    def connection(self, observed: Observed) -> dict[str, str]:
        """Connection details (no secrets) for a connection Secret; {} when none."""
        return {}

    def planned_name(self, key: ResourceKey, external_name: str | None) -> str | None:
        """The external name a create would use (None when AWS assigns it)."""
        if self.named_by_aws:
            return external_name
        return external_name or key.name


def retag_rds(ctx: Context, arn: str, put: Mapping[str, str], remove: Sequence[str]) -> None:
    """RDS tags (DB instances, subnet groups) by ARN: one API for every RDS kind."""
    if remove:
        ctx.call("remove_tags_from_resource", ResourceName=arn, TagKeys=list(remove))
    if put:
        ctx.call("add_tags_to_resource", ResourceName=arn, Tags=tag_list(put))

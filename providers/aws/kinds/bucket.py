"""``s3.aws.crossplane.io/v1beta1 Bucket``: an S3 bucket.

External name: the bucket name (``metadata.name`` by default). The region is
``forProvider.locationConstraint``. gitwave never deletes objects: deleting a
bucket that still holds some fails with a message saying so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitwave.engine.errors import ProviderError
from gitwave.engine.model import Health, Manifest

from ..record import TAG_APP
from .base import Context, Desired, KindHandler, Observed, TagStyle
from .registry import register
from .translate import healthy_when_present, tag_dict, tag_list

_MISSING = ("404", "NoSuchBucket", "NotFound")
_PUBLIC_ACCESS = {
    "blockPublicAcls": "BlockPublicAcls",
    "ignorePublicAcls": "IgnorePublicAcls",
    "blockPublicPolicy": "BlockPublicPolicy",
    "restrictPublicBuckets": "RestrictPublicBuckets",
}
_CONFIGURATIONS = frozenset(
    {
        "versioningConfiguration",
        "serverSideEncryptionConfiguration",
        "publicAccessBlockConfiguration",
    }
)


@register
class Bucket(KindHandler):
    group = "s3.aws.crossplane.io"
    kind = "Bucket"
    version = "v1beta1"
    service = "s3"
    region_field = "locationConstraint"
    global_listing = True
    tag_style = TagStyle.TAG_SET
    fields = frozenset(
        {"locationConstraint", "acl", "objectLockEnabledForBucket", "tagging", *_CONFIGURATIONS}
    )
    write_only = frozenset({"acl", "objectLockEnabledForBucket"})
    immutable = frozenset({"locationConstraint", "objectLockEnabledForBucket"})

    def get(self, ctx: Context, external_name: str, hint: Mapping[str, Any]) -> Observed | None:
        try:
            found = ctx.client.call(ctx.key, "head_bucket", missing=_MISSING, Bucket=external_name)
        except ProviderError as exc:
            if "403" in exc.detail or "Forbidden" in exc.detail:
                raise ProviderError(
                    ctx.key,
                    f"bucket {external_name} exists but this account cannot read it (bucket "
                    "names are global: another account may own it)",
                ) from None
            raise
        if found is None:
            return None
        return self._observed(ctx, external_name)

    def scan(self, ctx: Context, app: str) -> list[Observed]:
        found = []
        listed = ctx.call("list_buckets")
        for bucket in listed.get("Buckets") or ():
            name = str(bucket["Name"])
            if self._tags(ctx, name).get(TAG_APP) == app:
                observed = self.get(ctx, name, {})
                if observed is not None:
                    found.append(observed)
        return found

    def create(self, ctx: Context, desired: Desired) -> str:
        name = desired.external_name or desired.key.name
        fp = desired.for_provider
        request: dict[str, Any] = {"Bucket": name}
        if desired.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": desired.region}
        if fp.get("acl"):
            request["ACL"] = str(fp["acl"])
        if fp.get("objectLockEnabledForBucket") is not None:
            request["ObjectLockEnabledForBucket"] = bool(fp["objectLockEnabledForBucket"])
        ctx.call("create_bucket", **request)
        # S3 has no atomic create-with-tags everywhere yet: tag right away.
        ctx.call("put_bucket_tagging", Bucket=name, Tagging={"TagSet": tag_list(desired.tags)})
        self._configure(ctx, name, fp, _CONFIGURATIONS)
        return name

    def update(
        self, ctx: Context, observed: Observed, desired: Desired, changed: frozenset[str]
    ) -> None:
        self._configure(ctx, observed.external_name, desired.for_provider, changed)
        if "acl" in changed and desired.for_provider.get("acl"):
            ctx.call(
                "put_bucket_acl",
                Bucket=observed.external_name,
                ACL=str(desired.for_provider["acl"]),
            )

    def _configure(
        self, ctx: Context, name: str, fp: Mapping[str, Any], changed: frozenset[str]
    ) -> None:
        versioning = fp.get("versioningConfiguration")
        if "versioningConfiguration" in changed and isinstance(versioning, Mapping):
            config = {"Status": str(versioning.get("status", "Enabled"))}
            if versioning.get("mfaDelete"):
                config["MFADelete"] = str(versioning["mfaDelete"])
            ctx.call("put_bucket_versioning", Bucket=name, VersioningConfiguration=config)
        encryption = fp.get("serverSideEncryptionConfiguration")
        if "serverSideEncryptionConfiguration" in changed and isinstance(encryption, Mapping):
            ctx.call(
                "put_bucket_encryption",
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [_encryption_rule(r) for r in encryption.get("rules") or ()]
                },
            )
        public = fp.get("publicAccessBlockConfiguration")
        if "publicAccessBlockConfiguration" in changed and isinstance(public, Mapping):
            ctx.call(
                "put_public_access_block",
                Bucket=name,
                PublicAccessBlockConfiguration={
                    theirs: bool(public.get(ours, False)) for ours, theirs in _PUBLIC_ACCESS.items()
                },
            )

    def delete(self, ctx: Context, observed: Observed, inputs: Mapping[str, Any]) -> None:
        try:
            ctx.client.call(
                ctx.key, "delete_bucket", missing=_MISSING, Bucket=observed.external_name
            )
        except ProviderError as exc:
            if "BucketNotEmpty" in exc.detail:
                error = ProviderError(
                    ctx.key,
                    f"bucket {observed.external_name} still holds objects; gitwave never "
                    "deletes data",
                )
                error.hint = "empty the bucket, or set deletionPolicy: Orphan to keep it"
                raise error from None
            raise

    def retag(
        self, ctx: Context, observed: Observed, put: Mapping[str, str], remove: Sequence[str]
    ) -> None:
        # S3 replaces the whole tag set at once.
        tags = {k: v for k, v in observed.tags.items() if k not in remove}
        tags.update(put)
        if tags:
            ctx.call(
                "put_bucket_tagging",
                Bucket=observed.external_name,
                Tagging={"TagSet": tag_list(tags)},
            )
        else:
            ctx.call("delete_bucket_tagging", Bucket=observed.external_name)

    def _tags(self, ctx: Context, name: str) -> dict[str, str]:
        found = ctx.client.call(
            ctx.key, "get_bucket_tagging", missing=("NoSuchTagSet", *_MISSING), Bucket=name
        )
        return tag_dict((found or {}).get("TagSet"))

    def _observed(self, ctx: Context, name: str) -> Observed:
        location = ctx.call("get_bucket_location", Bucket=name).get("LocationConstraint")
        region = str(location or "us-east-1")
        tags = self._tags(ctx, name)
        for_provider: dict[str, Any] = {"locationConstraint": region}
        versioning = ctx.call("get_bucket_versioning", Bucket=name)
        if versioning.get("Status"):
            shown = {"status": versioning["Status"]}
            if versioning.get("MFADelete"):
                shown["mfaDelete"] = versioning["MFADelete"]
            for_provider["versioningConfiguration"] = shown
        encryption = ctx.client.call(
            ctx.key,
            "get_bucket_encryption",
            missing=("ServerSideEncryptionConfigurationNotFoundError",),
            Bucket=name,
        )
        rules = ((encryption or {}).get("ServerSideEncryptionConfiguration") or {}).get("Rules")
        if rules:
            for_provider["serverSideEncryptionConfiguration"] = {
                "rules": [_shown_rule(r) for r in rules]
            }
        public = ctx.client.call(
            ctx.key,
            "get_public_access_block",
            missing=("NoSuchPublicAccessBlockConfiguration",),
            Bucket=name,
        )
        block = (public or {}).get("PublicAccessBlockConfiguration")
        if block:
            for_provider["publicAccessBlockConfiguration"] = {
                ours: bool(block.get(theirs, False)) for ours, theirs in _PUBLIC_ACCESS.items()
            }
        for_provider.update(self.tag_style.show(tags))
        return Observed(
            external_name=name,
            region=region,
            for_provider=for_provider,
            at_provider={"arn": f"arn:aws:s3:::{name}"},
            tags=tags,
        )

    def health(self, manifest: Manifest) -> Health:
        return _HEALTH(manifest)


_HEALTH = healthy_when_present("Bucket")


def _encryption_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    default = rule.get("applyServerSideEncryptionByDefault") or {}
    out: dict[str, Any] = {
        "ApplyServerSideEncryptionByDefault": {
            k: v
            for k, v in (
                ("SSEAlgorithm", default.get("sseAlgorithm")),
                ("KMSMasterKeyID", default.get("kmsMasterKeyId")),
            )
            if v is not None
        }
    }
    if rule.get("bucketKeyEnabled") is not None:
        out["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
    return out


def _shown_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    shown: dict[str, Any] = {
        "applyServerSideEncryptionByDefault": {
            k: v
            for k, v in (
                ("sseAlgorithm", default.get("SSEAlgorithm")),
                ("kmsMasterKeyId", default.get("KMSMasterKeyID")),
            )
            if v is not None
        }
    }
    if rule.get("BucketKeyEnabled") is not None:
        shown["bucketKeyEnabled"] = bool(rule["BucketKeyEnabled"])
    return shown

"""Scanning, choosing and committing: Flux's image automation as one operation.

``scan`` lists each ImageRepository's tags (less its ``exclusionList``) and
evaluates every ImagePolicy over them; ``run_automation`` clones the
automation's GitRepository at the checkout branch into a scratch directory,
applies the setters under ``spec.update.path``, commits with the author and
the templated message, and pushes to the push branch, as
image-automation-controller does. The operator's own work tree is never
touched. Nothing changed → no commit and no push.

Git is untrusted input: the repository URL passes gitwave's scheme and local
path rules (``engine.source_url``), branch names must be branch names (never
a flag), GitPython puts ``--`` before the URL, and the update path cannot
leave the clone (``safe_join``).
"""

from __future__ import annotations

import difflib
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import re2  # type: ignore[import-untyped]

from gitwave.engine.errors import GitwaveError, ValidationError
from gitwave.engine.images.commit_message import render_message
from gitwave.engine.images.objects import (
    DEFAULT_MESSAGE,
    ImageObjects,
    ImagePolicy,
    ImageRepository,
    ImageUpdateAutomation,
)
from gitwave.engine.images.registry import Credentials, RegistryError, list_tags
from gitwave.engine.images.setters import Change, LatestImage, update_text, yaml_files
from gitwave.engine.source_push import BranchClone, check_branch
from gitwave.engine.source_url import check_local_repo, check_scheme

CredentialsFor = Callable[[ImageRepository], Credentials | None]


@dataclass(frozen=True)
class RepositoryScan:
    """One ImageRepository's tags (after exclusions), or why they could not be read."""

    repository: ImageRepository
    tags: tuple[str, ...]
    error: str = ""


@dataclass(frozen=True)
class PolicyChoice:
    """One ImagePolicy's latest image, or why there is none."""

    policy: ImagePolicy
    latest: LatestImage | None
    error: str = ""


@dataclass(frozen=True)
class ScanReport:
    repositories: tuple[RepositoryScan, ...]
    policies: tuple[PolicyChoice, ...]

    def latest_by_setter(self) -> dict[str, LatestImage]:
        """``namespace:name`` → latest image, for the policies that chose one."""
        return {c.policy.setter: c.latest for c in self.policies if c.latest is not None}

    @property
    def ok(self) -> bool:
        return not any(r.error for r in self.repositories) and not any(
            p.error for p in self.policies
        )


def scan(objects: ImageObjects, *, credentials: CredentialsFor | None = None) -> ScanReport:
    """Read every ImageRepository's tags and evaluate every ImagePolicy (errors are values)."""
    scans = []
    for repository in objects.repositories:
        try:
            creds = credentials(repository) if credentials is not None else None
            tags = list_tags(
                repository.image,
                subject=repository.subject,
                insecure=repository.insecure,
                credentials=creds,
                timeout_s=repository.timeout_s,
            )
        except GitwaveError as exc:
            scans.append(RepositoryScan(repository, (), error=exc.message))
            continue
        excluded = [re2.compile(p) for p in repository.exclusions]
        kept = tuple(t for t in tags if not any(p.search(t) for p in excluded))
        scans.append(RepositoryScan(repository, kept))
    by_ref = {s.repository.ref: s for s in scans}
    choices = []
    for policy in objects.policies:
        scanned = by_ref.get(policy.repository)
        if scanned is None:
            choices.append(
                PolicyChoice(
                    policy, None, f"{policy.subject}: ImageRepository {policy.repository} not found"
                )
            )
            continue
        if scanned.error:
            choices.append(PolicyChoice(policy, None, f"{policy.subject}: {scanned.error}"))
            continue
        try:
            tag = policy.policy.latest(scanned.tags)
        except ValueError as exc:
            choices.append(PolicyChoice(policy, None, f"{policy.subject}: {exc}"))
            continue
        if tag is None:
            choices.append(
                PolicyChoice(
                    policy,
                    None,
                    f"{policy.subject}: no tag of {scanned.repository.image.canonical} "
                    f"matches the policy ({len(scanned.tags)} tags scanned)",
                )
            )
            continue
        latest = LatestImage(name=scanned.repository.image.canonical, tag=tag)
        choices.append(PolicyChoice(policy, latest))
    return ScanReport(repositories=tuple(scans), policies=tuple(choices))


@dataclass(frozen=True)
class AutomationResult:
    """What one automation did: the changes, the diff, the commit and where it went."""

    automation: ImageUpdateAutomation
    changes: tuple[Change, ...] = ()
    diff: str = ""
    message: str = ""
    commit: str = ""
    pushed_to: str = ""
    error: str = ""
    hint: str = ""


def run_automation(
    automation: ImageUpdateAutomation,
    objects: ImageObjects,
    report: ScanReport,
    *,
    dry_run: bool = False,
    allowed_local_repos: Iterable[Path] = (),
    scratch: Path | None = None,
) -> AutomationResult:
    """Clone, update the setters, commit and push (``dry_run``: stop before committing).

    Errors are returned in ``AutomationResult.error`` naming the automation; a
    policy that could not choose an image leaves its markers untouched.
    """
    try:
        return _run(automation, objects, report, dry_run, tuple(allowed_local_repos), scratch)
    except GitwaveError as exc:
        return AutomationResult(automation, error=exc.message, hint=exc.hint)


def _run(
    automation: ImageUpdateAutomation,
    objects: ImageObjects,
    report: ScanReport,
    dry_run: bool,
    allowed: tuple[Path, ...],
    scratch: Path | None,
) -> AutomationResult:
    subject = automation.subject
    source = objects.source(automation.source)
    if source is None:
        raise ValidationError(
            automation.where, f"spec.sourceRef: GitRepository {automation.source} is not defined"
        )
    url = source.url.strip()
    check_scheme(url)
    if url.startswith("-"):
        raise ValidationError(source.where, f"spec.url {url!r} is not a Git URL")
    check_local_repo(url, allowed=allowed, subject=subject)
    checkout = automation.checkout_branch or source.branch
    push = automation.push_branch or checkout
    if not checkout:
        raise ValidationError(
            automation.where,
            "no branch to check out: set spec.git.checkout.ref.branch or the GitRepository's "
            "spec.ref.branch",
        )
    check_branch(checkout, subject=automation.where, what="checkout branch")
    check_branch(push, subject=automation.where, what="push branch")
    latest = {
        p.policy.setter: p.latest
        for p in report.policies
        if p.latest is not None and p.policy in objects.policies_for(automation)
    }
    with tempfile.TemporaryDirectory(prefix="gitwave-image-", dir=scratch) as tmp:
        clone = BranchClone.clone(url, checkout, Path(tmp) / "repo", subject=subject)
        changes: list[Change] = []
        diffs: list[str] = []
        for file, rel in yaml_files(clone.path, automation.update_path):
            text = file.read_text(encoding="utf-8", errors="strict")
            new_text, found = update_text(text, rel, latest)
            if not found:
                continue
            changes.extend(found)
            # No context lines: the diff shows the rewritten image lines and
            # nothing around them (a neighbouring Secret value must not be printed).
            diffs.append(
                "".join(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        new_text.splitlines(keepends=True),
                        f"a/{rel}",
                        f"b/{rel}",
                        n=0,
                    )
                )
            )
            if not dry_run:
                file.write_text(new_text, encoding="utf-8")
        if not changes:
            return AutomationResult(automation)
        message = render_message(automation, changes)
        diff = "".join(diffs)
        if dry_run:
            return AutomationResult(automation, tuple(changes), diff, message)
        email = automation.author_email
        sha = clone.commit(
            sorted({c.file for c in changes}),
            message,
            name=automation.author_name or email,
            email=email,
        )
        # Flux overwrites a push branch other than the checkout branch (force);
        # the checkout branch itself is pushed normally so a newer commit there wins.
        clone.push(push, force=push != checkout)
        return AutomationResult(
            automation, tuple(changes), diff, message, commit=sha, pushed_to=push
        )


def secret_credentials(
    read_secret: Callable[[str, str], Mapping[str, str] | None],
) -> CredentialsFor:
    """Credentials from each ImageRepository's ``spec.secretRef`` (a docker-registry
    Secret in its namespace), read with ``read_secret(namespace, name)``."""
    from gitwave.engine.images.registry import credentials_from_docker_config

    def credentials(repository: ImageRepository) -> Credentials | None:
        if not repository.secret_ref:
            return None
        secret = f"Secret/{repository.ref.namespace}/{repository.secret_ref}"
        values = read_secret(repository.ref.namespace, repository.secret_ref)
        if values is None:
            raise RegistryError(f"{repository.subject}: spec.secretRef: {secret} not found")
        config = values.get(".dockerconfigjson")
        if config is not None:
            return credentials_from_docker_config(
                config, repository.image.host, f"{repository.subject} ({secret})"
            )
        if "username" in values and "password" in values:
            return Credentials(values["username"], values["password"])
        raise RegistryError(
            f"{repository.subject}: {secret} has neither .dockerconfigjson nor username/password"
        )

    return credentials


__all__ = [
    "DEFAULT_MESSAGE",
    "AutomationResult",
    "PolicyChoice",
    "RepositoryScan",
    "ScanReport",
    "run_automation",
    "scan",
    "secret_credentials",
]

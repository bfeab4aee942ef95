"""Git push webhooks: a verified push, and the apps it concerns.

``read_push`` turns one HTTP request from GitHub, GitLab or Gitea into a
``Push`` (or raises ``WebhookRefused`` with the HTTP status to answer);
``push_concerns`` says whether an app's source reads the pushed repository and
branch. No I/O here: ``gitwave run --webhook-addr`` serves the HTTP side and the
reconcile loop polls the apps a push concerns at once.

How each forge proves a request came from it (all compared in constant time):

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>``;
- Gitea (and Forgejo): ``X-Gitea-Signature: <hex HMAC-SHA256 of the body>``;
- GitLab: ``X-Gitlab-Token: <the secret itself>``.

A request without its forge's proof is refused (401) when a secret is
configured; with no secret, only when ``insecure`` was asked for is anything
accepted. The secret and the received signature never appear in a message.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps import AppSource
from gitwave.engine.source_url import normalise_repo_url

# GitHub caps a delivery at 25 MB, but a push's payload is small (at most 20
# commits are listed, by GitHub and GitLab alike); 4 MiB leaves room for long
# commit messages while bounding what one unauthenticated request can make us read.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class Forge(enum.Enum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GITEA = "gitea"


class WebhookRefused(Exception):
    """A request that triggers nothing, with the HTTP status to answer and why.

    The message never quotes the secret or a received signature."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Push:
    """A verified push: the forge, every URL the payload gives for the
    repository (clone, SSH, web), the ref pushed (``refs/heads/main``), the new
    commit ("" when the forge gave none) and the repository's default branch."""

    forge: Forge
    repository_urls: tuple[str, ...]
    ref: str
    commit: str = ""
    default_branch: str = ""

    @property
    def repositories(self) -> frozenset[str]:
        """The repository in the comparable form of ``normalise_repo_url``."""
        return frozenset(normalise_repo_url(url) for url in self.repository_urls if url)

    @property
    def branch(self) -> str:
        """The branch pushed, or "" for a tag."""
        return self.ref.removeprefix("refs/heads/") if self.ref.startswith("refs/heads/") else ""

    @property
    def tag(self) -> str:
        """The tag pushed, or "" for a branch."""
        return self.ref.removeprefix("refs/tags/") if self.ref.startswith("refs/tags/") else ""

    @property
    def display(self) -> str:
        """``repo ref (commit)`` for a log line."""
        repository = min(self.repositories) if self.repositories else "?"
        name = self.branch or self.tag or self.ref
        commit = f" ({self.commit[:7]})" if self.commit else ""
        return f"{self.forge.value} push to {repository} {name}{commit}"


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookConfig:
    """The shared secret (None: none configured) and whether requests without
    a proof are accepted (only with ``insecure``)."""

    secret: bytes | None
    insecure: bool = False
    max_bytes: int = MAX_PAYLOAD_BYTES


def _header(headers: Mapping[str, str], name: str) -> str:
    # http.server's headers are case-insensitive already; a plain dict in a test is not.
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def forge_of(headers: Mapping[str, str]) -> tuple[Forge, str]:
    """The forge that sent the request and its event name. Gitea sends GitHub's
    event header too, so its own is looked at first. Raises WebhookRefused (400)
    for a request from none of them."""
    for forge, name in (
        (Forge.GITEA, "X-Gitea-Event"),
        (Forge.GITLAB, "X-Gitlab-Event"),
        (Forge.GITHUB, "X-GitHub-Event"),
    ):
        event = _header(headers, name)
        if event:
            return forge, event
    raise WebhookRefused(
        400, "not a GitHub, GitLab or Gitea webhook (no X-GitHub-Event, X-Gitlab-Event header)"
    )


def verify(forge: Forge, headers: Mapping[str, str], body: bytes, config: WebhookConfig) -> None:
    """Raises WebhookRefused (401) unless the request carries its forge's proof
    of ``config.secret``; with no secret, unless ``config.insecure``."""
    if forge is Forge.GITHUB:
        given, header = _header(headers, "X-Hub-Signature-256"), "X-Hub-Signature-256"
    elif forge is Forge.GITEA:
        given, header = _header(headers, "X-Gitea-Signature"), "X-Gitea-Signature"
    else:
        given, header = _header(headers, "X-Gitlab-Token"), "X-Gitlab-Token"
    if config.secret is None:
        if config.insecure:
            return
        raise WebhookRefused(401, "no webhook secret configured: every request is refused")
    if not given:
        if config.insecure:
            return
        raise WebhookRefused(401, f"unsigned {forge.value} request: no {header} header")
    if forge is Forge.GITLAB:
        ok = hmac.compare_digest(given.encode(), config.secret)
    else:
        digest = hmac.new(config.secret, body, hashlib.sha256).hexdigest()
        want = f"sha256={digest}" if forge is Forge.GITHUB else digest
        ok = hmac.compare_digest(given.strip().lower().encode(), want.encode())
    if not ok:
        raise WebhookRefused(401, f"{header} does not match the webhook secret")


def read_push(headers: Mapping[str, str], body: bytes, config: WebhookConfig) -> Push | None:
    """The push a verified request carries, or None for another event (a ping,
    an issue comment) that triggers nothing. Raises WebhookRefused: 413 for a
    body over ``config.max_bytes``, 401 for a missing or wrong proof, 400 for a
    payload that is not a push's JSON. The proof is checked before the body is parsed."""
    if len(body) > config.max_bytes:
        raise WebhookRefused(413, f"payload over {config.max_bytes} bytes")
    forge, event = forge_of(headers)
    verify(forge, headers, body, config)
    if event.lower() not in ("push", "push hook", "tag push hook"):
        return None
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookRefused(400, "payload is not JSON (send it as application/json)") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("ref"), str):
        raise WebhookRefused(400, "payload is not a push: no 'ref'")
    return _push(forge, payload)


def _push(forge: Forge, payload: dict[str, Any]) -> Push:
    urls: list[str] = []
    default_branch = ""
    # GitHub and Gitea: repository.*; GitLab: project.* (and the older repository.*).
    for holder_name in ("repository", "project"):
        holder = payload.get(holder_name)
        if not isinstance(holder, dict):
            continue
        for field_name in (
            "clone_url",
            "ssh_url",
            "git_url",
            "html_url",
            "git_http_url",
            "git_ssh_url",
            "web_url",
            "homepage",
            "url",
        ):
            value = holder.get(field_name)
            if isinstance(value, str) and value and value not in urls:
                urls.append(value)
        branch = holder.get("default_branch")
        if isinstance(branch, str) and branch and not default_branch:
            default_branch = branch
    if not urls:
        raise WebhookRefused(400, "payload is not a push: no repository URL")
    commit = payload.get("after") or payload.get("checkout_sha") or ""
    return Push(
        forge=forge,
        repository_urls=tuple(urls),
        ref=str(payload["ref"]),
        commit=str(commit) if isinstance(commit, str) else "",
        default_branch=default_branch,
    )


def push_concerns(source: AppSource, push: Push) -> bool:
    """True when ``source`` reads the pushed repository at the pushed ref.

    The repository matches in any URL form (https, ssh, ``git@host:path``, with
    or without ``.git``), by the app's repository identity (a local clone is
    known by its remote). The ref: a branch named as the app's revision; HEAD
    (or none) is the default branch, any branch when the forge did not say
    which is default; a tag named as the revision. A commit SHA never moves,
    so a push never concerns it."""
    repositories = push.repositories
    own = {
        normalise_repo_url(url)
        for url in (source.repository, source.fetch_from, source.repo_url)
        if url and url != "."
    }
    if source.repository:
        own.add(source.repository)  # already normalised by the loader
    if not own & repositories:
        return False
    return revision_concerned(source.revision, push)


def revision_concerned(revision: str, push: Push) -> bool:
    """True when an app at ``revision`` (an Argo CD targetRevision, a Flux ref)
    reads what ``push`` moved; see ``push_concerns``."""
    wanted = revision.strip()
    if _SHA.fullmatch(wanted.lower()):
        return False
    if wanted in ("", "HEAD"):
        if push.tag:
            return False
        return not push.default_branch or push.branch == push.default_branch
    if wanted.startswith("refs/"):
        return wanted == push.ref
    return wanted in (push.branch, push.tag)

"""Git push webhooks as values: which requests are verified, what a push
says, and which app sources it concerns (every URL form of one repository)."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

import pytest

from gitwave.engine.apps import AppSource
from gitwave.engine.webhook import (
    Forge,
    Push,
    WebhookConfig,
    WebhookRefused,
    push_concerns,
    read_push,
)

SECRET = b"topsecret"
BODY = json.dumps(
    {
        "ref": "refs/heads/main",
        "after": "0123456789abcdef0123456789abcdef01234567",
        "repository": {
            "clone_url": "https://github.com/acme/shop.git",
            "ssh_url": "git@github.com:acme/shop.git",
            "default_branch": "main",
        },
    }
).encode()


def sha256(secret: bytes, body: bytes = BODY) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VerifyCase:
    reason: str
    headers: dict[str, str]
    config: WebhookConfig
    status: int  # 0: accepted


SIGNED = WebhookConfig(secret=SECRET)
VERIFY_CASES = [
    VerifyCase(
        "GitHub, right signature",
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={sha256(SECRET)}"},
        SIGNED,
        0,
    ),
    VerifyCase(
        "GitHub, header names in any case",
        {"x-github-event": "push", "x-hub-signature-256": f"sha256={sha256(SECRET)}"},
        SIGNED,
        0,
    ),
    VerifyCase(
        "GitHub, signature of another secret",
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={sha256(b'other')}"},
        SIGNED,
        401,
    ),
    VerifyCase(
        "GitHub, signature without its sha256= prefix",
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": sha256(SECRET)},
        SIGNED,
        401,
    ),
    VerifyCase("GitHub, unsigned", {"X-GitHub-Event": "push"}, SIGNED, 401),
    VerifyCase(
        "Gitea, right signature",
        {"X-Gitea-Event": "push", "X-Gitea-Signature": sha256(SECRET)},
        SIGNED,
        0,
    ),
    VerifyCase(
        "Gitea, a GitHub signature header only does not count",
        {
            "X-Gitea-Event": "push",
            "X-Hub-Signature-256": f"sha256={sha256(SECRET)}",
        },
        SIGNED,
        401,
    ),
    VerifyCase(
        "GitLab, right token",
        {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET.decode()},
        SIGNED,
        0,
    ),
    VerifyCase(
        "GitLab, wrong token",
        {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "topsecreT"},
        SIGNED,
        401,
    ),
    VerifyCase(
        "no secret configured: refused",
        {"X-GitHub-Event": "push"},
        WebhookConfig(secret=None),
        401,
    ),
    VerifyCase(
        "no secret, unsigned allowed",
        {"X-GitHub-Event": "push"},
        WebhookConfig(secret=None, insecure=True),
        0,
    ),
    VerifyCase(
        "unsigned allowed still checks a signature that is there",
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={sha256(b'other')}"},
        WebhookConfig(secret=SECRET, insecure=True),
        401,
    ),
    VerifyCase("not from a forge", {"Content-Type": "application/json"}, SIGNED, 400),
    VerifyCase(
        "over the size limit",
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={sha256(SECRET)}"},
        WebhookConfig(secret=SECRET, max_bytes=16),
        413,
    ),
]


@pytest.mark.parametrize("case", VERIFY_CASES, ids=lambda c: c.reason)
def test_verification(case: VerifyCase) -> None:
    if case.status:
        with pytest.raises(WebhookRefused) as refused:
            read_push(case.headers, BODY, case.config)
        assert refused.value.status == case.status
        assert SECRET.decode() not in str(refused.value)
        assert sha256(SECRET) not in str(refused.value)
    else:
        push = read_push(case.headers, BODY, case.config)
        assert push is not None
        assert push.ref == "refs/heads/main"
        assert push.branch == "main"
        assert push.repositories == {"github.com/acme/shop"}


def test_a_signed_request_that_is_not_json_is_refused_after_verification() -> None:
    body = b"payload=%7B%7D"  # GitHub's form encoding: not supported, as Argo CD
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={sha256(SECRET, body)}"}
    with pytest.raises(WebhookRefused, match="not JSON") as refused:
        read_push(headers, body, SIGNED)
    assert refused.value.status == 400


def test_other_events_trigger_nothing() -> None:
    body = b'{"zen": "x"}'
    headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": f"sha256={sha256(SECRET, body)}"}
    assert read_push(headers, body, SIGNED) is None


def push(ref: str = "refs/heads/main", *urls: str, default_branch: str = "main") -> Push:
    return Push(
        forge=Forge.GITHUB,
        repository_urls=urls or ("https://github.com/acme/shop.git",),
        ref=ref,
        default_branch=default_branch,
    )


@dataclass(frozen=True)
class MatchCase:
    reason: str
    source: AppSource
    push: Push
    concerns: bool


def source(repo_url: str, revision: str = "main", repository: str = "") -> AppSource:
    return AppSource(
        repo_url=repo_url,
        revision=revision,
        path="apps",
        fetch_from=repo_url,
        repository=repository,
    )


MATCH_CASES = [
    MatchCase("https with .git", source("https://github.com/acme/shop.git"), push(), True),
    MatchCase("https without .git", source("https://github.com/acme/shop"), push(), True),
    MatchCase("https, trailing slash", source("https://github.com/acme/shop/"), push(), True),
    MatchCase("scp-like ssh", source("git@github.com:acme/shop.git"), push(), True),
    MatchCase("ssh URL", source("ssh://git@github.com/acme/shop"), push(), True),
    MatchCase("host in capitals", source("https://GitHub.com/acme/shop"), push(), True),
    MatchCase(
        "the push names it by its ssh URL only",
        source("https://github.com/acme/shop"),
        push("refs/heads/main", "git@github.com:acme/shop.git"),
        True,
    ),
    MatchCase(
        "a local clone known by its origin",
        source("/home/me/shop", repository="github.com/acme/shop"),
        push(),
        True,
    ),
    MatchCase("another repository", source("https://github.com/acme/shops"), push(), False),
    MatchCase("another owner", source("https://github.com/other/shop"), push(), False),
    MatchCase("another host", source("https://gitlab.com/acme/shop"), push(), False),
    MatchCase("another branch", source("https://github.com/acme/shop", "prod"), push(), False),
    MatchCase(
        "HEAD is the default branch",
        source("https://github.com/acme/shop", "HEAD"),
        push(),
        True,
    ),
    MatchCase(
        "HEAD and a push to another branch",
        source("https://github.com/acme/shop", "HEAD"),
        push("refs/heads/feature"),
        False,
    ),
    MatchCase(
        "HEAD when the forge does not say which branch is default",
        source("https://github.com/acme/shop", "HEAD"),
        push("refs/heads/feature", default_branch=""),
        True,
    ),
    MatchCase(
        "refs/heads/ spelled out",
        source("https://github.com/acme/shop", "refs/heads/main"),
        push(),
        True,
    ),
    MatchCase(
        "a tag",
        source("https://github.com/acme/shop", "v1.2.0"),
        push("refs/tags/v1.2.0"),
        True,
    ),
    MatchCase(
        "a commit SHA never moves",
        source("https://github.com/acme/shop", "0123456789abcdef0123456789abcdef01234567"),
        push(),
        False,
    ),
]


@pytest.mark.parametrize("case", MATCH_CASES, ids=lambda c: c.reason)
def test_which_apps_a_push_concerns(case: MatchCase) -> None:
    assert push_concerns(case.source, case.push) is case.concerns

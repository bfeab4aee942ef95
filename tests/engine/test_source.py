"""Source: local work trees, pinned revisions, shallow clones, and path safety.

Every repository here is a real Git repository made with GitPython in tmp_path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from gitwave.engine.errors import PathEscapeError, SourceError
from gitwave.engine.source import (
    ALLOW_INSECURE_GIT_ENV,
    Checkout,
    check_scheme,
    is_remote,
    list_tags,
    normalise_repo_url,
    open_source,
    redact_url,
    safe_join,
)


@dataclass(frozen=True)
class Repo:
    """A repository with two commits: v1 (tagged) and v2 (HEAD of main)."""

    path: Path
    first: str
    second: str

    @property
    def url(self) -> str:
        return self.path.as_uri()


def make_repo(path: Path) -> Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.com")
    (path / "app").mkdir()
    (path / "app" / "cm.yaml").write_text("version: 1\n", encoding="utf-8")
    repo.index.add(["app/cm.yaml"])
    first = repo.index.commit("v1").hexsha
    repo.create_tag("v1", message="release 1")  # annotated: ls-remote must peel it
    (path / "app" / "cm.yaml").write_text("version: 2\n", encoding="utf-8")
    repo.index.add(["app/cm.yaml"])
    second = repo.index.commit("v2").hexsha
    repo.close()
    return Repo(path, first, second)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def status(path: Path) -> tuple[str, str]:
    handle = git.Repo(path)
    try:
        return handle.head.commit.hexsha, handle.git.status("--porcelain")
    finally:
        handle.close()


# --- local work trees --------------------------------------------------------------


def test_a_directory_inside_a_work_tree_opens_the_whole_tree_at_head(repo: Repo) -> None:
    checkout = open_source(str(repo.path / "app"))

    assert checkout == Checkout(
        root=repo.path.resolve(), revision=repo.second, dirty=False, url=str(repo.path.resolve())
    )
    assert checkout.relpath(repo.path / "app") == "app"


@dataclass
class DirtyCase:
    reason: str
    edit: str  # "none" | "modify" | "untracked" | "delete"
    want: bool


@pytest.mark.parametrize(
    "case",
    [
        DirtyCase("clean tree", "none", False),
        DirtyCase("a modified tracked file", "modify", True),
        DirtyCase("a new untracked file", "untracked", True),
        DirtyCase("a deleted file", "delete", True),
    ],
    ids=lambda c: c.reason,
)
def test_dirty_flag_tracks_uncommitted_edits(repo: Repo, case: DirtyCase) -> None:
    manifest = repo.path / "app" / "cm.yaml"
    if case.edit == "modify":
        manifest.write_text("version: 3\n", encoding="utf-8")
    elif case.edit == "untracked":
        (repo.path / "app" / "new.yaml").write_text("x: 1\n", encoding="utf-8")
    elif case.edit == "delete":
        manifest.unlink()

    checkout = open_source(str(repo.path))

    assert checkout.dirty is case.want
    assert checkout.revision == repo.second
    assert checkout.short_revision == repo.second[:8] + ("+dirty" if case.want else "")


def test_a_plain_directory_has_no_revision(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text("a: 1\n", encoding="utf-8")

    checkout = open_source(str(tmp_path))

    assert checkout == Checkout(
        root=tmp_path.resolve(), revision="", dirty=False, url=str(tmp_path.resolve())
    )


@dataclass
class RevisionCase:
    reason: str
    revision: str  # "first" / "second" stand for the commits' SHAs
    want: str  # "first" | "second"


@pytest.mark.parametrize(
    "case",
    [
        RevisionCase("an annotated tag", "v1", "first"),
        RevisionCase("an older full SHA", "first", "first"),
        RevisionCase("a short SHA", "first[:10]", "first"),
        RevisionCase("a branch name", "main", "second"),
        RevisionCase("a relative ref", "HEAD~1", "first"),
    ],
    ids=lambda c: c.reason,
)
def test_a_local_revision_is_materialised_without_touching_the_work_tree(
    repo: Repo, cache: Path, case: RevisionCase
) -> None:
    # An uncommitted edit in the user's tree must survive, and must not leak into the checkout.
    (repo.path / "app" / "cm.yaml").write_text("version: edited\n", encoding="utf-8")
    before = status(repo.path)
    revision = {"first": repo.first, "second": repo.second, "first[:10]": repo.first[:10]}.get(
        case.revision, case.revision
    )

    checkout = open_source(str(repo.path), revision=revision, cache_dir=cache)

    want_sha = repo.first if case.want == "first" else repo.second
    assert checkout.revision == want_sha
    assert not checkout.dirty
    assert checkout.root.is_relative_to(cache)
    content = (checkout.root / "app" / "cm.yaml").read_text(encoding="utf-8")
    assert content == ("version: 1\n" if case.want == "first" else "version: 2\n")
    assert status(repo.path) == before
    assert (repo.path / "app" / "cm.yaml").read_text(encoding="utf-8") == "version: edited\n"


def test_the_same_commit_reuses_its_materialised_checkout(repo: Repo, cache: Path) -> None:
    first = open_source(str(repo.path), revision="v1", cache_dir=cache)
    made = (first.root / "app" / "cm.yaml").stat().st_ino

    again = open_source(str(repo.path), revision=repo.first, cache_dir=cache)

    assert again.root == first.root
    assert (again.root / "app" / "cm.yaml").stat().st_ino == made  # not checked out again


def test_an_unknown_local_revision_names_the_repository_and_revision(
    repo: Repo, cache: Path
) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(str(repo.path), revision="no-such-branch", cache_dir=cache)

    assert "no-such-branch" in str(caught.value)
    assert str(repo.path.resolve()) in str(caught.value)
    assert caught.value.hint


@dataclass
class BadLocationCase:
    reason: str
    location: str
    revision: str | None
    want: str


@pytest.mark.parametrize(
    "case",
    [
        BadLocationCase("a missing directory", "{tmp}/missing", None, "no such directory"),
        BadLocationCase(
            "a file, not a directory", "{tmp}/repo/app/cm.yaml", None, "not a directory"
        ),
        BadLocationCase(
            "a revision of a plain directory", "{tmp}/plain", "v1", "not a Git repository"
        ),
        BadLocationCase(
            "a revision that looks like an option", "{tmp}/repo", "--upload-pack=x", "not valid"
        ),
    ],
    ids=lambda c: c.reason,
)
def test_bad_local_locations_are_source_errors(
    tmp_path: Path, repo: Repo, case: BadLocationCase
) -> None:
    (tmp_path / "plain").mkdir()

    with pytest.raises(SourceError, match=case.want):
        open_source(
            case.location.format(tmp=tmp_path), revision=case.revision, cache_dir=tmp_path / "c"
        )


# --- remote URLs (file:// is a real Git transport, shallow included) -----------------------


@pytest.mark.parametrize(
    ("revision", "want"),
    [
        (None, "second"),
        ("main", "second"),
        ("v1", "first"),
        ("refs/tags/v1", "first"),
        ("first", "first"),
    ],
)
def test_a_file_url_is_cloned_shallow_at_the_revision(
    repo: Repo, cache: Path, revision: str | None, want: str
) -> None:
    wanted = repo.first if revision == "first" else revision

    checkout = open_source(repo.url, revision=wanted, cache_dir=cache)

    want_sha = repo.first if want == "first" else repo.second
    assert checkout.revision == want_sha
    assert checkout.url == repo.url
    assert checkout.root.is_relative_to(cache)
    assert (checkout.root / ".git" / "shallow").is_file()  # depth 1, not a full clone
    content = (checkout.root / "app" / "cm.yaml").read_text(encoding="utf-8")
    assert content == ("version: 1\n" if want == "first" else "version: 2\n")
    handle = git.Repo(checkout.root)
    assert handle.head.is_detached
    handle.close()


def test_a_short_sha_over_a_url_falls_back_to_a_full_fetch(repo: Repo, cache: Path) -> None:
    checkout = open_source(repo.url, revision=repo.first[:12], cache_dir=cache)

    assert checkout.revision == repo.first


def test_an_unknown_remote_revision_lists_what_exists(repo: Repo, cache: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_source(repo.url, revision="release-9", cache_dir=cache)

    assert "release-9" in str(caught.value)
    assert repo.url in str(caught.value)
    assert "branches: main" in caught.value.hint
    assert "tags: v1" in caught.value.hint


def test_an_unreachable_url_is_a_retriable_source_error(tmp_path: Path, cache: Path) -> None:
    url = (tmp_path / "nothing-here").as_uri()

    with pytest.raises(SourceError) as caught:
        open_source(url, cache_dir=cache)

    assert url in str(caught.value)
    assert "unreachable" in str(caught.value)
    assert caught.value.retriable


def test_a_new_commit_on_the_branch_gives_a_new_checkout_and_keeps_the_old(
    repo: Repo, cache: Path
) -> None:
    old = open_source(repo.url, revision="main", cache_dir=cache)
    handle = git.Repo(repo.path)
    (repo.path / "app" / "cm.yaml").write_text("version: 3\n", encoding="utf-8")
    handle.index.add(["app/cm.yaml"])
    third = handle.index.commit("v3").hexsha
    handle.close()

    new = open_source(repo.url, revision="main", cache_dir=cache)

    assert new.revision == third
    assert new.root != old.root
    assert (old.root / "app" / "cm.yaml").read_text(encoding="utf-8") == "version: 2\n"


def test_tags_of_local_and_remote_repositories(repo: Repo) -> None:
    assert list_tags(str(repo.path)) == ("v1",)
    assert list_tags(repo.url) == ("v1",)


# --- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "remote"),
    [
        ("https://github.com/org/repo", True),
        ("ssh://git@github.com/org/repo.git", True),
        ("git@github.com:org/repo.git", True),
        ("file:///srv/git/repo", True),
        ("samples/guestbook", False),
        ("/abs/path", False),
        (".", False),
    ],
)
def test_is_remote(location: str, remote: bool) -> None:
    assert is_remote(location) is remote


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo",
        "https://github.com/org/repo.git",
        "https://github.com/org/repo/",
        "http://GitHub.com/org/repo.git/",
        "ssh://git@github.com/org/repo",
        "ssh://git@github.com:22/org/repo.git",
        "git@github.com:org/repo.git",
        "https://user:token@github.com/org/repo",
    ],
)
def test_equivalent_urls_normalise_alike(url: str) -> None:
    assert normalise_repo_url(url) == "github.com/org/repo"


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://ghp_secret@github.com/org/repo", "https://***@github.com/org/repo"),
        ("https://user:hunter2@git.example.com:8443/r", "https://***@git.example.com:8443/r"),
        ("ssh://git@github.com/org/repo", "ssh://git@github.com/org/repo"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("https://github.com/org/repo", "https://github.com/org/repo"),
    ],
)
def test_credentials_never_appear_in_shown_urls(url: str, want: str) -> None:
    assert redact_url(url) == want


def test_a_credential_in_a_url_is_not_in_the_error(cache: Path) -> None:
    with pytest.raises(SourceError) as caught:
        open_source("https://ghp_topsecret@127.0.0.1:9/org/repo.git", cache_dir=cache)

    assert "ghp_topsecret" not in str(caught.value)
    assert "ghp_topsecret" not in caught.value.hint


# --- safe_join -----------------------------------------------------------------------------------


@dataclass
class JoinCase:
    reason: str
    relative: str
    want: str | None  # the joined path relative to the root; None: refused


@pytest.mark.parametrize(
    "case",
    [
        JoinCase("a plain sub-path", "app/base", "app/base"),
        JoinCase("dot segments inside", "./app/../lib", "lib"),
        JoinCase("the root itself", ".", "."),
        JoinCase("an empty path is the root", "", "."),
        JoinCase("a link that stays inside", "inside-link/x", "inside-link/x"),
        JoinCase("dot-dot", "..", None),
        JoinCase("dot-dot below a name", "app/../../etc", None),
        JoinCase("an absolute path", "/etc/passwd", None),
        JoinCase("a Windows drive path", "C:\\Windows", None),
        JoinCase("a link that leaves", "outside-link", None),
        JoinCase("a path through a link that leaves", "outside-link/secret", None),
    ],
    ids=lambda c: c.reason,
)
def test_safe_join_refuses_every_way_out(tmp_path: Path, case: JoinCase) -> None:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "lib").mkdir()
    (tmp_path / "outside").mkdir()
    (root / "inside-link").symlink_to(root / "lib")
    (root / "outside-link").symlink_to(tmp_path / "outside")

    if case.want is None:
        with pytest.raises(PathEscapeError, match="escapes the repository"):
            safe_join(root, case.relative)
    else:
        joined = safe_join(root, case.relative)
        assert joined == (root / case.want if case.want != "." else root)


# --- URL schemes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/org/repo.git", "git://127.0.0.1:9/org/repo.git", "HTTP://127.0.0.1:9/r"],
)
def test_insecure_schemes_are_refused_naming_the_url_and_the_opt_in(
    url: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_INSECURE_GIT_ENV, raising=False)

    with pytest.raises(SourceError) as caught:
        open_source(url, cache_dir=cache)
    with pytest.raises(SourceError) as tags:
        list_tags(url)

    for error in (caught.value, tags.value):
        assert str(error).startswith(f"{url}: ")
        assert "is refused" in str(error)
        assert f"{ALLOW_INSECURE_GIT_ENV}=1" in error.hint
    assert not any(cache.rglob("*"))  # nothing was fetched


def test_the_refusal_redacts_a_credential(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_INSECURE_GIT_ENV, raising=False)

    with pytest.raises(SourceError) as caught:
        open_source("http://user:hunter2@127.0.0.1:9/r.git", cache_dir=cache)

    assert "hunter2" not in f"{caught.value}\n{caught.value.hint}"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/org/repo.git", "git://127.0.0.1:9/org/repo"])
def test_the_opt_in_lifts_the_refusal(
    url: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW_INSECURE_GIT_ENV, "1")

    # Port 9 (discard) has nothing listening: the fetch fails, but not on the scheme.
    with pytest.raises(SourceError) as caught:
        open_source(url, cache_dir=cache)

    assert "is refused" not in str(caught.value)
    assert ALLOW_INSECURE_GIT_ENV not in caught.value.hint


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/r.git", "ext::sh -c touch% /tmp/x://"])
def test_other_schemes_are_refused(url: str, cache: Path) -> None:
    with pytest.raises(SourceError):
        open_source(url, cache_dir=cache)


@pytest.mark.parametrize(
    "location",
    [
        "https://github.com/org/repo",
        "ssh://git@github.com/org/repo",
        "git+ssh://git@github.com/org/repo",
        "git@github.com:org/repo.git",
        "file:///srv/repo",
        "/srv/repo",
        "relative/dir",
    ],
)
def test_secure_schemes_and_paths_pass_the_scheme_check(
    location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_INSECURE_GIT_ENV, raising=False)

    check_scheme(location)  # no error

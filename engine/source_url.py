"""Git locations: a URL or a local path, its comparable form, a form safe
to show (no password or token), and which URL schemes may be fetched.

Only ``https://``, ``ssh://`` (and ``git+ssh://``, ``user@host:path``) and
``file://`` or a local path are fetched. A local path or ``file://`` URL
written in an app file names a directory on the gitwave host: it is rendered
only when it lies in the repository the command was given or in a directory
the operator allowed (``--allow-local-repo``, ``GITWAVE_ALLOW_LOCAL_REPOS``);
see ``local_repo_problem``. ``http://`` and ``git://`` carry no
authentication of the server, so whoever sits on the network chooses the
manifests that get applied; they are refused unless the operator sets
``GITWAVE_ALLOW_INSECURE_GIT=1``. Any other scheme is refused outright.
"""

from __future__ import annotations

import os
import posixpath
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from gitwave.engine.errors import SourceError, ValidationError

_URL_SCHEMES = ("http://", "https://", "ssh://", "git://", "file://", "git+ssh://")
_SECURE_SCHEMES = frozenset({"https", "ssh", "git+ssh", "file"})
_INSECURE_SCHEMES = frozenset({"http", "git"})
ALLOW_INSECURE_GIT_ENV = "GITWAVE_ALLOW_INSECURE_GIT"
ALLOW_LOCAL_REPOS_ENV = "GITWAVE_ALLOW_LOCAL_REPOS"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)")


def is_remote(location: str) -> bool:
    """True when ``location`` is a Git URL rather than a local path."""
    return location.startswith(_URL_SCHEMES) or bool(_SCP_LIKE.match(location))


def redact_url(url: str) -> str:
    """``url`` without a password or token in its user part (safe for messages)."""
    if "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    # https://TOKEN@host/... carries a credential in the user part; ssh://git@host does not.
    has_secret = parts.password is not None or (
        parts.username is not None and parts.scheme in ("http", "https")
    )
    if not has_secret:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def normalise_repo_url(url: str) -> str:
    """A comparable form of a Git URL: ``host/path`` without scheme, user, ``.git`` or ``/``.

    ``git@github.com:org/repo.git``, ``ssh://git@github.com/org/repo`` and
    ``https://github.com/org/repo/`` all become ``github.com/org/repo``.
    """
    text = url.strip()
    scp = _SCP_LIKE.match(text)
    if scp:
        host = text[: scp.end() - 1].split("@", 1)[1]
        path = text[scp.end() :]
    elif "://" in text:
        parts = urllib.parse.urlsplit(text)
        if parts.scheme == "file":
            return "file:" + posixpath.normpath(urllib.parse.unquote(parts.path)).rstrip("/")
        host = (parts.hostname or "").lower()
        if parts.port and parts.port not in (22, 80, 443):
            host = f"{host}:{parts.port}"
        path = parts.path
    else:
        return "file:" + posixpath.normpath(os.path.abspath(text)).rstrip("/")
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[: -len(".git")]
    return f"{host.lower()}/{path}"


def check_argument(value: str, *, what: str) -> None:
    # A value starting with "-" would be read by git as an option (--upload-pack=...).
    if not value or value.startswith("-"):
        raise SourceError(
            f"{what} {value!r} is not valid", hint=f"give a {what} not starting with '-'"
        )


def check_scheme(location: str) -> None:
    """SourceError unless ``location`` is a path or a URL of a scheme gitwave fetches.

    ``http://`` and ``git://`` pass only when ``GITWAVE_ALLOW_INSECURE_GIT=1``
    is set in the environment; the message names the (redacted) URL and the opt-in.
    """
    found = _SCHEME.match(location)
    if found is None:
        return  # a local path or scp-like user@host:path (ssh)
    scheme = found.group(1).lower()
    if scheme in _SECURE_SCHEMES:
        return
    if scheme in _INSECURE_SCHEMES:
        if os.environ.get(ALLOW_INSECURE_GIT_ENV) == "1":
            return
        raise SourceError(
            f"{redact_url(location)}: {scheme}:// is refused: it does not authenticate the "
            "server, so anyone on the network could change what is applied",
            hint=f"use an https:// or ssh:// URL; to fetch over {scheme}:// anyway, "
            f"set {ALLOW_INSECURE_GIT_ENV}=1 in gitwave's environment",
        )
    raise SourceError(
        f"{redact_url(location)}: the {scheme}:// scheme is not supported",
        hint="use an https://, ssh:// or file:// URL, user@host:path, or a local path",
    )


def local_path(location: str) -> Path | None:
    """The host directory ``location`` names (a path or a ``file://`` URL), made
    absolute without following symlinks; None for a network URL."""
    if location.lower().startswith("file://"):
        parts = urllib.parse.urlsplit(location)
        return Path(os.path.abspath(urllib.parse.unquote(parts.path) or "/"))
    if is_remote(location) or location.lower().startswith("oci://"):  # oci://: a Helm registry
        return None
    return Path(os.path.abspath(location))


def allowed_local_repos(extra: Iterable[str] = ()) -> tuple[Path, ...]:
    """The host directories an app's repoURL may name besides the given repository:
    ``extra`` (``--allow-local-repo``) and the ``os.pathsep``-separated entries of
    ``GITWAVE_ALLOW_LOCAL_REPOS``, each resolved."""
    entries = [*extra, *os.environ.get(ALLOW_LOCAL_REPOS_ENV, "").split(os.pathsep)]
    return tuple(Path(e).expanduser().resolve() for e in entries if e.strip())


def check_local_repo(location: str, *, allowed: Iterable[Path], subject: str) -> None:
    """ValidationError naming ``subject`` (the app) and the path when ``location``
    names a host directory outside every directory of ``allowed`` (symlinks
    resolved); network URLs always pass."""
    path = local_path(location)
    if path is None:
        return
    real = path.resolve()
    if any(real == root or real.is_relative_to(root) for root in allowed):
        return
    raise ValidationError(
        subject,
        f"its source {path} is a directory on the gitwave host outside the repository "
        "this command was given; gitwave does not render it",
        hint=f"if that directory is meant, pass --allow-local-repo {path} (or add it to "
        f"{ALLOW_LOCAL_REPOS_ENV}); otherwise give a Git URL",
    )

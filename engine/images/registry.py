"""Listing an image's tags through the OCI distribution API (``/v2/<name>/tags/list``).

What Flux's image-reflector-controller does for an ImageRepository, over plain
HTTP(S) with the standard library:

- the image name is read as Docker does: no registry host means Docker Hub
  (``nginx`` → ``registry-1.docker.io/library/nginx``); a first component with
  a ``.`` or ``:`` or ``localhost`` is the host;
- pages follow the ``Link: <...>; rel="next"`` header (``n`` asks for a page
  size), bounded by ``MAX_PAGES`` so a registry cannot keep gitwave listing
  forever;
- a 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` gets
  a token from the realm (with the credentials, if any, as Basic auth) and the
  request is tried again; ``WWW-Authenticate: Basic`` is answered with the
  credentials themselves;
- ``insecure`` (``spec.insecure``) means plain ``http://``; otherwise https.

Every failure is a ``RegistryError`` naming the subject (``ImageRepository/
ns/name``) and the URL; credentials never appear in a message.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitwave.engine.errors import GitwaveError

DOCKER_HUB = "registry-1.docker.io"
MAX_PAGES = 100
PAGE_SIZE = 1000
# A tag list is names of at most 128 characters: 16 MiB bounds a page generously.
MAX_BODY = 16 * 1024 * 1024
_NAME_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$")
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(GitwaveError):
    """The registry could not be read; names the subject and the URL (retriable)."""

    retriable = True


@dataclass(frozen=True)
class ImageName:
    """An image reference without tag: the registry host and the repository path."""

    host: str
    path: str
    # spec.image as written: what a setter writes back (Flux keeps the name as given).
    written: str = field(default="", compare=False)

    @staticmethod
    def parse(text: str, subject: str) -> ImageName:
        """``text`` as Docker reads it; RegistryError naming ``subject`` if it is not a name."""
        value = text.strip()
        if not value or value.startswith("-") or any(c.isspace() for c in value):
            raise RegistryError(f"{subject}: spec.image {text!r} is not an image name")
        if "@" in value or _has_tag(value):
            raise RegistryError(
                f"{subject}: spec.image {text!r} must not carry a tag or digest "
                "(the ImageRepository scans the tags)"
            )
        first, _, rest = value.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            host, path = first, rest
        else:
            host, path = "docker.io", value
        if not _HOST.match(host):
            raise RegistryError(f"{subject}: spec.image {text!r}: {host!r} is not a registry host")
        if host == "docker.io" and "/" not in path:
            path = f"library/{path}"
        if not all(_NAME_COMPONENT.match(part) for part in path.split("/")):
            raise RegistryError(
                f"{subject}: spec.image {text!r}: {path!r} is not a repository path "
                "(lowercase letters, digits and . _ - separated by /)"
            )
        return ImageName(host=host, path=path, written=value)

    @property
    def api_host(self) -> str:
        return DOCKER_HUB if self.host in ("docker.io", "index.docker.io") else self.host

    @property
    def canonical(self) -> str:
        """How the image is written in a manifest: as ``spec.image`` gave it."""
        if self.written:
            return self.written
        return f"{self.host}/{self.path}" if self.host != "docker.io" else self.path

    def tags_url(self, *, insecure: bool, page_size: int = PAGE_SIZE) -> str:
        scheme = "http" if insecure else "https"
        return f"{scheme}://{self.api_host}/v2/{self.path}/tags/list?n={page_size}"


def _has_tag(value: str) -> bool:
    last = value.rsplit("/", 1)[-1]
    return ":" in last


@dataclass(frozen=True)
class Credentials:
    """A user and password (or token) for one registry host; never printed."""

    username: str = field(repr=False)
    password: str = field(repr=False)

    def basic(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


def credentials_from_docker_config(config_json: str, host: str, subject: str) -> Credentials | None:
    """The credentials for ``host`` in a ``.dockerconfigjson`` (None: none for it)."""
    try:
        doc = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{subject}: .dockerconfigjson is not JSON ({exc.msg})") from None
    auths = doc.get("auths") if isinstance(doc, Mapping) else None
    if not isinstance(auths, Mapping):
        raise RegistryError(f"{subject}: .dockerconfigjson has no auths mapping")
    wanted = {host, f"https://{host}", f"http://{host}"}
    if host in ("docker.io", DOCKER_HUB):
        wanted |= {"https://index.docker.io/v1/", "index.docker.io", "docker.io"}
    for key, entry in auths.items():
        if str(key).rstrip("/") not in {w.rstrip("/") for w in wanted}:
            continue
        if not isinstance(entry, Mapping):
            continue
        if entry.get("username") and entry.get("password") is not None:
            return Credentials(str(entry["username"]), str(entry["password"]))
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise RegistryError(f"{subject}: auths[{key}].auth is not base64") from None
            return Credentials(user, password)
    return None


def list_tags(
    image: ImageName,
    *,
    subject: str,
    insecure: bool = False,
    credentials: Credentials | None = None,
    timeout_s: float = 60.0,
    page_size: int = PAGE_SIZE,
    context: ssl.SSLContext | None = None,
) -> tuple[str, ...]:
    """Every tag of ``image``, in the registry's order, across pages.

    Raises RegistryError naming ``subject`` and the URL when the registry cannot be
    reached, refuses the credentials, does not know the repository or answers
    something that is not a tag list.
    """
    url = image.tags_url(insecure=insecure, page_size=page_size)
    session = RegistrySession(
        subject=subject, credentials=credentials, timeout_s=timeout_s, context=context
    )
    tags: list[str] = []
    for _page in range(MAX_PAGES):
        body, link = session.get(url)
        try:
            doc = json.loads(body)
        except json.JSONDecodeError:
            raise RegistryError(f"{subject}: {url} did not answer a JSON tag list") from None
        page = doc.get("tags") if isinstance(doc, Mapping) else None
        if page is not None and not (
            isinstance(page, list) and all(isinstance(t, str) for t in page)
        ):
            raise RegistryError(f"{subject}: {url} answered a malformed tag list")
        tags.extend(page or ())
        next_url = _next_link(link, url)
        if next_url is None:
            return tuple(tags)
        url = next_url
    raise RegistryError(f"{subject}: {image.api_host} kept paging after {MAX_PAGES} pages")


def _next_link(link: str, current: str) -> str | None:
    found = _LINK_NEXT.search(link or "")
    if found is None:
        return None
    target = str(urllib.parse.urljoin(current, str(found.group(1))))
    # The next page must stay on the same registry: a Link header must not send
    # gitwave (and its credentials) to another host.
    if urllib.parse.urlsplit(target)[:2] != urllib.parse.urlsplit(current)[:2]:
        return None
    return target


@dataclass
class RegistrySession:
    """GETs with the auth a registry asks for; a bearer token is kept for later pages."""

    subject: str
    credentials: Credentials | None
    timeout_s: float
    authorization: str = field(default="", repr=False)
    # The HTTPS trust (a source's certSecretRef); None: the system's CAs.
    context: ssl.SSLContext | None = None

    def get(
        self, url: str, *, accept: str = "application/json", max_body: int = MAX_BODY
    ) -> tuple[bytes, str]:
        """The body of ``url`` and its ``Link`` header, answering the registry's
        auth challenge once. RegistryError naming the subject and URL on failure."""
        for _attempt in range(2):
            headers = {"Accept": accept}
            if self.authorization:
                headers["Authorization"] = self.authorization
            try:
                return self._fetch(url, headers, max_body=max_body)
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "") if exc.headers else ""
                if exc.code == 401 and challenge and not self.authorization:
                    self.authorization = self._answer(challenge, url)
                    continue
                raise RegistryError(_http_problem(self.subject, url, exc.code)) from None
        raise RegistryError(
            f"{self.subject}: {url} refused the credentials (401)",
            hint="check the spec.secretRef (a docker-registry Secret)",
        )

    def _fetch(
        self, url: str, headers: Mapping[str, str], *, max_body: int = MAX_BODY
    ) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers=dict(headers))
        try:
            with urllib.request.urlopen(
                request, timeout=self.timeout_s, context=self.context
            ) as response:
                body: bytes = response.read(max_body + 1)
                if len(body) > max_body:
                    raise RegistryError(f"{self.subject}: {url} answered over {max_body:,} bytes")
                return body, response.headers.get("Link", "")
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(
                f"{self.subject}: cannot reach the registry at {url}: {reason}",
                hint="check spec.image, that the registry is up, and spec.insecure for http",
            ) from None

    def _answer(self, challenge: str, url: str) -> str:
        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(params_text))
        if scheme.lower() == "basic":
            if self.credentials is None:
                raise RegistryError(
                    f"{self.subject}: {url} needs credentials (401)",
                    hint="give it a spec.secretRef (a docker-registry Secret)",
                )
            return self.credentials.basic()
        if scheme.lower() != "bearer" or not params.get("realm"):
            raise RegistryError(f"{self.subject}: {url} asks for unknown auth {scheme!r}")
        return "Bearer " + self._token(params, url)

    def _token(self, params: Mapping[str, str], url: str) -> str:
        realm = params["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{self.subject}: {url}: token realm {realm!r} is not a URL")
        query = {k: params[k] for k in ("service", "scope") if params.get(k)}
        token_url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.basic()
        try:
            body, _ = self._fetch(token_url, headers)
        except urllib.error.HTTPError as exc:
            raise RegistryError(_http_problem(self.subject, realm, exc.code, token=True)) from None
        try:
            doc = json.loads(body)
        except json.JSONDecodeError:
            raise RegistryError(
                f"{self.subject}: token service {realm} did not answer JSON"
            ) from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, Mapping) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.subject}: token service {realm} gave no token")
        return token


def _http_problem(subject: str, url: str, code: int, *, token: bool = False) -> str:
    where = f"the token service {url}" if token else url
    if code in (401, 403):
        return f"{subject}: {where} refused access ({code}); check spec.secretRef"
    if code == 404:
        return f"{subject}: {where} answered 404: no such repository on the registry"
    return f"{subject}: {where} answered HTTP {code}"

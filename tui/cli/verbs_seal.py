"""``gitwave seal``: kubeseal for the sandbox (and for any controller's certificate).

``gitwave seal [-f secret.yaml] [--scope strict|namespace-wide|cluster-wide]
[--cert FILE]`` reads one Secret (a file, or stdin) and prints the
SealedSecret kubeseal would print for it (JSON by default, ``-o yaml``),
sealed with the sandbox's certificate or the one ``--cert`` names.
``gitwave seal --fetch-cert`` prints the sandbox's certificate, for
``kubeseal --cert``. Nothing here prints a secret value: an error names the
input file, never its content.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from gitwave.engine.errors import ValidationError
from gitwave.providers.sealed_secrets import (
    SealError,
    SealingScope,
    kubeseal_json,
    kubeseal_yaml,
    public_key_of_cert,
    seal_secret,
)
from gitwave.tui.cli.context import EXIT_OK, Context
from gitwave.tui.cli.output import dump


def _read_secret(source: str) -> tuple[dict[str, Any], str]:
    where = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(where, f"cannot read the Secret: {exc}") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark is not None else where
        # The parser's message quotes no value, only where it stopped.
        raise ValidationError(at, "not valid YAML or JSON") from None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ValidationError(where, f"expected one Secret, found {len(docs)} documents")
    return docs[0], where


def cmd_seal(ctx: Context) -> int:
    args = ctx.args
    sandbox_keys = ctx.sandbox.sealed_secrets.keys
    if args.fetch_cert:
        certificate = sandbox_keys.ensure().certificate_pem()
        if ctx.output in ("json", "yaml"):  # the PEM as one value of one document
            sys.stdout.write(dump({"certificate": certificate}, ctx.output) + "\n")
        else:
            sys.stdout.write(certificate)
        return EXIT_OK
    secret, where = _read_secret(args.file)
    try:
        if args.cert:
            try:
                pem = Path(args.cert).read_bytes()
            except OSError as exc:
                raise ValidationError(args.cert, f"cannot read the certificate: {exc}") from None
            public_key = public_key_of_cert(pem)
        else:
            public_key = public_key_of_cert(sandbox_keys.ensure().cert_path.read_bytes())
        scope = SealingScope(args.scope) if args.scope else None
        sealed = seal_secret(
            secret, public_key, scope=scope, default_namespace=args.namespace or "default"
        )
    except SealError as exc:
        raise ValidationError(where, str(exc)) from None
    text = kubeseal_yaml(sealed) if ctx.output == "yaml" else kubeseal_json(sealed)
    sys.stdout.write(text)
    return EXIT_OK


__all__ = ["cmd_seal"]

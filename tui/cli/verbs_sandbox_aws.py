"""``gitwave sandbox kms create-key`` and ``gitwave sandbox aws-exec``: the
sandbox's embedded AWS emulator as a KMS for sops, with no AWS account.

``create-key`` makes a symmetric key in the emulator and prints its ARN; the
emulator's snapshot (``STATE/aws-emulator.pickle``) keeps it for later
commands. The emulator listens on a fresh port per gitwave process, so
``aws-exec -- COMMAND`` runs COMMAND (e.g. ``sops --encrypt --kms ARN``) while
it is up, with ``AWS_ENDPOINT_URL_KMS`` and its fake credentials set; ``gitwave
sync`` then gives sops the same emulator by itself.
"""

from __future__ import annotations

import os
import subprocess

from gitwave.engine.errors import ValidationError
from gitwave.providers.aws import EmbeddedAws
from gitwave.tui.cli.context import EXIT_OK, EXIT_USAGE, Context
from gitwave.tui.cli.output import dump


def _emulator(ctx: Context) -> EmbeddedAws:
    if (ctx.args.target or "sandbox") != "sandbox" or ctx.args.context:
        raise ValidationError(
            "--target", "the embedded AWS emulator exists only on the sandbox target"
        )
    _ = ctx.targets  # builds the AWS target of the sandbox
    aws = ctx._aws
    assert aws is not None
    return aws.embedded_emulator()


def cmd_sandbox_kms_create_key(ctx: Context) -> int:
    arn = _emulator(ctx).create_kms_key(alias=ctx.args.alias)
    if ctx.output in ("json", "yaml"):
        alias = f"alias/{ctx.args.alias}" if ctx.args.alias else None
        ctx.out(dump({"arn": arn, "alias": alias}, ctx.output))
    else:
        ctx.out(arn)
    return EXIT_OK


def cmd_sandbox_aws_exec(ctx: Context) -> int:
    command = list(ctx.args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        ctx.err("gitwave sandbox aws-exec: give a command, e.g. -- sops --encrypt --kms ARN FILE")
        return EXIT_USAGE
    emulator = _emulator(ctx)
    # The user's own command line, run as they typed it (no shell), nothing from Git.
    proc = subprocess.run(command, env={**os.environ, **emulator.environment()}, check=False)
    return proc.returncode

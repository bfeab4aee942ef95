"""Kubernetes-style names read from Git: what makes one valid (RFC 1123).

Names from Git (app names, Helm release names, namespaces) end up on tool
command lines. Holding them to RFC 1123 — lowercase letters, digits, ``-``
and ``.``, starting and ending with a letter or digit — is what keeps a
value such as ``--post-renderer=sh`` from ever reaching helm as a flag.
"""

from __future__ import annotations

import re

LABEL_MAX = 63
SUBDOMAIN_MAX = 253
# Helm keeps 10 characters of the 63 for the suffixes it adds to release objects.
HELM_RELEASE_MAX = 53

_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")


def dns_problem(value: str, *, max_len: int = LABEL_MAX, dots: bool = False) -> str | None:
    """Why ``value`` is not an RFC 1123 label (a subdomain with ``dots``) of at most
    ``max_len`` characters; None when it is one."""
    pattern = _SUBDOMAIN if dots else _LABEL
    allowed = "lowercase letters, digits, '-'" + (" and '.'" if dots else "")
    if not pattern.fullmatch(value):
        return (
            f"{value!r} is not a valid name: use {allowed}, "
            "starting and ending with a letter or digit"
        )
    if len(value) > max_len:
        return f"{value!r} is longer than {max_len} characters"
    return None


__all__ = ["HELM_RELEASE_MAX", "LABEL_MAX", "SUBDOMAIN_MAX", "dns_problem"]

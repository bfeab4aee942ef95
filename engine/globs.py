"""The two glob dialects Argo CD's AppProjects are written in, as Argo CD reads them.

- ``argo_glob``: sourceRepos, destinations and sourceNamespaces (Argo CD's
  ``util/glob`` on gobwas/glob): ``*`` any run of characters except the
  separators given, ``**`` any run at all, ``?`` one character except a
  separator, ``[abc]``/``[a-z]``/``[!a]``, ``{a,b}`` alternatives, ``\\``
  escapes. A pattern that does not compile matches nothing, as in Argo CD.
- ``kind_glob``: group, kind and name of the resource lists (Go's
  ``filepath.Match``): ``*`` any run without ``/``, ``?``, ``[a-z]``/``[^a]``,
  ``\\`` escapes; a malformed pattern matches nothing.

``path_glob`` is the repository-path dialect of an ApplicationSet git
generator and of a Flux ArtifactGenerator's ``copy``: ``*`` and ``?`` within
one directory, ``**`` across directories, ``[...]`` a class.

Both compile to ``re`` patterns once (an LRU cache), and a pattern never runs
as a regular expression of its own: every character is escaped or translated.
"""

from __future__ import annotations

import fnmatch
import functools
import re

_MAX_PATTERN = 1024  # a project field is a short pattern; longer ones match nothing


@functools.lru_cache(maxsize=1024)
def path_glob(pattern: str) -> re.Pattern[str]:
    """A repository-path glob (see the module) compiled to a pattern to fullmatch."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                parts.append(re.escape("["))
                i += 1
            else:
                parts.append(fnmatch.translate(pattern[i : end + 1])[4:-3])
                i = end + 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def argo_glob(pattern: str, text: str, *, separators: str = "") -> bool:
    """True when ``text`` matches ``pattern`` (gobwas/glob semantics, see the module)."""
    if pattern == "*":
        return True
    compiled = _argo_compiled(pattern, separators)
    return compiled is not None and compiled.fullmatch(text) is not None


def kind_glob(pattern: str, text: str) -> bool:
    """True when ``text`` matches ``pattern`` (Go ``filepath.Match`` semantics)."""
    compiled = _filepath_compiled(pattern)
    return compiled is not None and compiled.fullmatch(text) is not None


def regexp_or_glob(pattern: str, text: str) -> bool:
    """Argo CD's ``MatchStringInList(..., REGEXP)`` for one entry: ``/re/`` is a
    regular expression (searched, unanchored, as Go's ``regexp.MatchString``),
    anything else a glob without separators."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            return re.search(pattern[1:-1], text) is not None
        except re.error:
            return False
    return argo_glob(pattern, text)


@functools.lru_cache(maxsize=4096)
def _argo_compiled(pattern: str, separators: str) -> re.Pattern[str] | None:
    if len(pattern) > _MAX_PATTERN:
        return None
    not_sep = f"[^{re.escape(separators)}]" if separators else "."
    try:
        body, rest = _argo_part(pattern, 0, not_sep, in_braces=False)
    except ValueError:
        return None
    if rest != len(pattern):
        return None
    return re.compile(body, re.DOTALL)


def _argo_part(pattern: str, i: int, not_sep: str, *, in_braces: bool) -> tuple[str, int]:
    """The regex for ``pattern[i:]`` up to an unmatched ``,`` or ``}`` when inside
    braces; ``(regex, index where it stopped)``. ValueError for a malformed pattern."""
    out: list[str] = []
    while i < len(pattern):
        char = pattern[i]
        if in_braces and char in ",}":
            return "".join(out), i
        if char == "\\":
            if i + 1 >= len(pattern):
                raise ValueError("trailing escape")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
            else:
                out.append(f"{not_sep}*")
                i += 1
        elif char == "?":
            out.append(not_sep)
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise ValueError("unclosed [")
            out.append(_char_class(pattern[i + 1 : end], negate_mark="!"))
            i = end + 1
        elif char == "{":
            options: list[str] = []
            i += 1
            while True:
                option, i = _argo_part(pattern, i, not_sep, in_braces=True)
                options.append(option)
                if i >= len(pattern):
                    raise ValueError("unclosed {")
                if pattern[i] == "}":
                    i += 1
                    break
                i += 1  # the comma
            out.append("(?:" + "|".join(options) + ")")
        elif char == "}" or (char == "," and in_braces):
            raise ValueError("unbalanced }")
        else:
            out.append(re.escape(char))
            i += 1
    if in_braces:
        return "".join(out), i
    return "".join(out), i


@functools.lru_cache(maxsize=4096)
def _filepath_compiled(pattern: str) -> re.Pattern[str] | None:
    if len(pattern) > _MAX_PATTERN:
        return None
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 >= len(pattern):
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                return None
            try:
                out.append(_char_class(pattern[i + 1 : end], negate_mark="^"))
            except ValueError:
                return None
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _char_class(body: str, *, negate_mark: str) -> str:
    """``[body]`` as a regex class: ranges kept, every other character escaped."""
    negate = body.startswith(negate_mark)
    if negate:
        body = body[1:]
    if not body:
        raise ValueError("empty class")
    parts: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low > high:
                raise ValueError("bad range")
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            parts.append(re.escape(body[i]))
            i += 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


__all__ = ["argo_glob", "kind_glob", "regexp_or_glob"]

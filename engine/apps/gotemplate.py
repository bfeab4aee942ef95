"""The subset of Go's text/template that ApplicationSet templates are written in.

Argo CD renders ``goTemplate: true`` ApplicationSets with Go's text/template
and the Sprig functions. This is a small interpreter for what Argo CD users
write there: field chains (``{{ .path.basename }}``, ``{{ $.values.env }}``),
literals, function calls and pipelines (``{{ .name | lower | trunc 20 }}``),
parenthesised pipelines, variables (``{{ $x := .a }}``), ``if``/``else
if``/``else``, ``with``, ``range`` and ``end``, comments and ``{{-``/``-}}``
trimming. The functions are in ``gotemplate_funcs``: pure string and value
work, nothing that reads a file, the environment, the network or the clock.

Anything else (``define``, ``template``, ``block``, methods on values, an
unknown function) is a ``TemplateError`` naming the construct; the caller adds
the field and ``file:line``. Output is bounded (``max_output`` characters) and
so is nesting, so a template from Git cannot make gitwave build a huge string.

The template text is parsed here; one action's tokens and the parse tree's
node types are in ``gotemplate_parse``, evaluating the tree in
``gotemplate_eval``.

Like Go: a missing map key prints ``<no value>`` unless the option
``missingkey=error`` is set; a field of a missing value is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitwave.engine.apps.gotemplate_eval import MAX_STEPS, Evaluation
from gitwave.engine.apps.gotemplate_funcs import MISSING, TemplateError
from gitwave.engine.apps.gotemplate_parse import (
    MAX_NESTING,
    REFUSED,
    Action,
    Block,
    Pipeline,
    lex,
    parse_pipeline,
)

__all__ = ["MAX_NESTING", "MAX_STEPS", "MISSING", "GoTemplate", "TemplateError", "parse"]


# --- parsing the template text -------------------------------------------------------

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


@dataclass(frozen=True)
class GoTemplate:
    """A parsed template: render it with ``render(data, missing_key_error=...)``."""

    source: str
    nodes: tuple[Any, ...]
    max_output: int

    def render(self, data: Any, *, missing_key_error: bool = False) -> str:
        """The text; TemplateError for a failed evaluation or output over ``max_output``."""
        run = Evaluation(data, missing_key_error, self.max_output)
        run.nodes(list(self.nodes), data, {"$": data})
        return "".join(run.out)


def parse(source: str, *, max_output: int) -> GoTemplate:
    """Parse ``source``; TemplateError naming the unsupported or malformed construct."""
    root: list[Any] = []
    stack: list[tuple[Block, list[Any]]] = []
    current = root
    position = 0
    trim_next = False
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if match.group(1):
            text = text.rstrip()
        if trim_next:
            text = text.lstrip()
        if text:
            current.append(text)
        position = match.end()
        trim_next = bool(match.group(3))
        body = match.group(2).strip()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise TemplateError("unclosed comment")
            continue
        tokens = lex(body)
        if not tokens:
            raise TemplateError("missing value for command")
        head = tokens[0].text if tokens[0].kind == "ident" else ""
        if head in REFUSED:
            raise TemplateError(f"{{{{{head}}}}} is not supported in ApplicationSet templates")
        if head in ("break", "continue"):
            raise TemplateError(f"{{{{{head}}}}} is not supported")
        if head in ("if", "with", "range"):
            if len(stack) >= MAX_NESTING:
                raise TemplateError(f"blocks nested deeper than {MAX_NESTING}")
            block = Block(head)
            block.branches.append((parse_pipeline(tokens[1:]), []))
            current.append(block)
            stack.append((block, current))
            current = block.branches[-1][1]
        elif head == "else":
            if not stack:
                raise TemplateError("{{else}} without {{if}}, {{with}} or {{range}}")
            block = stack[-1][0]
            if block.branches[-1][0] is None:
                raise TemplateError("{{else}} after {{else}}")
            rest = tokens[1:]
            condition: Pipeline | None = None
            if rest:
                if rest[0].text != block.keyword or block.keyword == "range":
                    raise TemplateError(f"{{{{else {rest[0].text}}}}} is not supported here")
                condition = parse_pipeline(rest[1:])
            block.branches.append((condition, []))
            current = block.branches[-1][1]
        elif head == "end":
            if len(tokens) != 1:
                raise TemplateError("unexpected words after {{end}}")
            if not stack:
                raise TemplateError("{{end}} without {{if}}, {{with}} or {{range}}")
            _, current = stack.pop()
        else:
            current.append(Action(parse_pipeline(tokens)))
    text = source[position:]
    if trim_next:
        text = text.lstrip()
    if text:
        current.append(text)
    if stack:
        raise TemplateError(f"unclosed {{{{{stack[-1][0].keyword}}}}}: add {{{{end}}}}")
    return GoTemplate(source, tuple(root), max_output)

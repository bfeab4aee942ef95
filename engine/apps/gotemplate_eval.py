"""Evaluating a parsed Go template (``GoTemplate.render``): fields, variables,
function calls and pipelines, ``if``/``with``/``range``, with the output and
the number of steps bounded (``max_output``, ``MAX_STEPS``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gitwave.engine.apps.gotemplate_funcs import (
    FUNCTIONS,
    MISSING,
    TemplateError,
    printable,
    truthy,
    value_size,
)
from gitwave.engine.apps.gotemplate_parse import Action, Block, Operand, Pipeline

# Evaluation steps one render may take: nested ``range``s over numbers or long
# lists must not keep gitwave busy for hours while emitting nothing.
MAX_STEPS = 200_000

# --- evaluation --------------------------------------------------------------------


class Evaluation:
    def __init__(self, data: Any, missing_key_error: bool, max_output: int) -> None:
        self.data = data
        self.missing_key_error = missing_key_error
        self.max_output = max_output
        self.out: list[str] = []
        self.size = 0
        self.steps = 0

    def emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.max_output:
            raise TemplateError(f"output over {self.max_output:,} characters")
        self.out.append(text)

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateError(f"more than {MAX_STEPS:,} evaluation steps")

    def nodes(self, nodes: Sequence[Any], dot: Any, scope: dict[str, Any]) -> None:
        for node in nodes:
            self.step()
            if isinstance(node, str):
                self.emit(node)
            elif isinstance(node, Action):
                value = self.pipeline(node.pipeline, dot, scope)
                if not node.pipeline.declare:
                    self.emit(printable(value))
            else:
                self.block(node, dot, scope)

    def block(self, block: Block, dot: Any, scope: dict[str, Any]) -> None:
        if block.keyword == "range":
            self.range(block, dot, scope)
            return
        for condition, body in block.branches:
            inner = dict(scope)
            if condition is None:
                self.nodes(body, dot, inner)
                return
            value = self.pipeline(condition, dot, inner)
            if truthy(value):
                self.nodes(body, value if block.keyword == "with" else dot, inner)
                return

    def range(self, block: Block, dot: Any, scope: dict[str, Any]) -> None:
        condition, body = block.branches[0]
        assert condition is not None
        undeclared = Pipeline((), False, condition.commands)
        value = self.pipeline(undeclared, dot, scope)
        items: list[tuple[Any, Any]]
        if isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            items = [(i, i) for i in range(min(value, self.max_output))]
        elif value is None or value is MISSING:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {printable(value)}")
        if not items:
            if len(block.branches) > 1:
                self.nodes(block.branches[1][1], dot, dict(scope))
            return
        for key, item in items:
            self.step()
            inner = dict(scope)
            names = condition.declare
            if len(names) == 1:
                inner[names[0]] = item
            elif len(names) == 2:
                inner[names[0]], inner[names[1]] = key, item
            self.nodes(body, item, inner)

    def pipeline(self, pipeline: Pipeline, dot: Any, scope: dict[str, Any]) -> Any:
        value: Any = None
        for index, command in enumerate(pipeline.commands):
            piped = (value,) if index else ()
            value = self.command(command, dot, scope, piped)
        if pipeline.declare:
            if len(pipeline.declare) != 1:
                raise TemplateError("only one variable may be declared outside range")
            name = pipeline.declare[0]
            if pipeline.assign and name not in scope:
                raise TemplateError(f"undefined variable {name}")
            scope[name] = value
        return value

    def command(
        self,
        operands: tuple[Operand, ...],
        dot: Any,
        scope: dict[str, Any],
        piped: tuple[Any, ...],
    ) -> Any:
        first = operands[0]
        if first.kind == "function":
            args = [self.operand(o, dot, scope) for o in operands[1:]]
            call: Callable[..., Any] = FUNCTIONS[first.value]
            if value_size([*args, *piped], self.max_output) > self.max_output:
                raise TemplateError(
                    f"arguments of {first.value} over {self.max_output:,} characters"
                )
            try:
                result = call(*args, *piped)
                if isinstance(result, str) and len(result) > self.max_output:
                    raise TemplateError(f"{first.value} made over {self.max_output:,} characters")
                return result
            except (TypeError, ValueError, RecursionError):
                shown = ", ".join(map(printable, [*args, *piped]))
                raise TemplateError(f"wrong arguments for {first.value}: {shown}") from None
        if len(operands) > 1 or piped:
            raise TemplateError(f"can't give argument to non-function {_shown(first)}")
        return self.operand(first, dot, scope)

    def operand(self, operand: Operand, dot: Any, scope: dict[str, Any]) -> Any:
        if operand.kind == "field":
            return self.fields(dot, operand.value, ".")
        if operand.kind == "variable":
            name, _, rest = operand.value.partition(".")
            if name not in scope:
                raise TemplateError(f"undefined variable {name}")
            return self.fields(scope[name], "." + rest if rest else "", name)
        if operand.kind == "pipeline":
            return self.pipeline(operand.value, dot, dict(scope))
        if operand.kind == "function":
            return FUNCTIONS[operand.value]()
        return operand.value

    def fields(self, value: Any, chain: str, start: str) -> Any:
        if chain in ("", "."):
            return value
        walked = start
        for name in chain.strip(".").split("."):
            if value is MISSING or value is None:
                raise TemplateError(f"nil pointer evaluating {walked}.{name}")
            if not isinstance(value, Mapping):
                raise TemplateError(f"can't evaluate field {name} in {walked} (not a map)")
            if name in value:
                value = value[name]
            elif self.missing_key_error:
                raise TemplateError(f'map has no entry for key "{name}" (in {walked})')
            else:
                value = MISSING
            walked = f"{walked.rstrip('.')}.{name}"
        return value


def _shown(operand: Operand) -> str:
    return str(operand.value)

"""The commit message of an image update: Flux's ``messageTemplate`` and its data.

The template is Go text/template (gitwave's interpreter, ``engine.apps.gotemplate``,
with its Sprig subset) over the data image-automation-controller gives it:

- ``.AutomationObject``: ``.Name`` and ``.Namespace``; printed as ``namespace/name``;
- ``.Changed.FileChanges``: file → object → changes;
- ``.Changed.Objects``: object → changes, whatever the file;
- ``.Changed.Changes``: every change (``.OldValue``, ``.NewValue``, ``.Setter``);
- ``.Values``: ``spec.git.commit.messageTemplateValues``.

An object is keyed by ``.Name``, ``.Namespace``, ``.APIVersion`` and ``.Kind``.
The removed ``.Updated`` data is an error, as in Flux. Output is bounded so a
template from Git cannot build a huge message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gitwave.engine.apps.gotemplate import parse
from gitwave.engine.apps.gotemplate_funcs import TemplateError
from gitwave.engine.errors import ValidationError
from gitwave.engine.images.objects import DEFAULT_MESSAGE, ImageUpdateAutomation
from gitwave.engine.images.setters import Change, ObjectId

MAX_MESSAGE = 64 * 1024


class GoStruct(Mapping[str, Any]):
    """A Go struct value for templates: fields by name, hashable (a map key),
    ordered field by field (Go sorts map keys that way), printed as Go prints it."""

    __slots__ = ("_fields", "_shown")

    def __init__(self, shown: str, fields: Sequence[tuple[str, Any]]) -> None:
        self._fields = tuple(fields)
        self._shown = shown

    def __getitem__(self, key: str) -> Any:
        for name, value in self._fields:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __hash__(self) -> int:
        return hash(self._fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoStruct) and self._fields == other._fields

    def __lt__(self, other: GoStruct) -> bool:
        return tuple(str(v) for _, v in self._fields) < tuple(str(v) for _, v in other._fields)

    def go_string(self) -> str:
        return self._shown


def _object(object_id: ObjectId) -> GoStruct:
    fields = (
        ("Name", object_id.name),
        ("Namespace", object_id.namespace),
        ("APIVersion", object_id.api_version),
        ("Kind", object_id.kind),
    )
    return GoStruct("{" + " ".join(str(v) for _, v in fields) + "}", fields)


def _change(change: Change) -> GoStruct:
    fields = (
        ("OldValue", change.old_value),
        ("NewValue", change.new_value),
        ("Setter", change.setter),
    )
    return GoStruct("{" + " ".join(str(v) for _, v in fields) + "}", fields)


def template_data(automation: ImageUpdateAutomation, changes: Sequence[Change]) -> dict[str, Any]:
    """The value ``messageTemplate`` is rendered with (see the module docstring)."""
    files: dict[str, dict[GoStruct, list[GoStruct]]] = {}
    objects: dict[GoStruct, list[GoStruct]] = {}
    for change in changes:
        key = _object(change.object)
        files.setdefault(change.file, {}).setdefault(key, []).append(_change(change))
        objects.setdefault(key, []).append(_change(change))
    ref = automation.ref
    return {
        "AutomationObject": GoStruct(
            f"{ref.namespace}/{ref.name}", (("Name", ref.name), ("Namespace", ref.namespace))
        ),
        "Changed": {
            "FileChanges": files,
            "Objects": objects,
            "Changes": [_change(c) for c in changes],
        },
        "Values": dict(automation.template_values),
    }


def render_message(automation: ImageUpdateAutomation, changes: Sequence[Change]) -> str:
    """The commit message; ValidationError naming the automation's messageTemplate."""
    source = automation.message_template
    if not source.strip():
        return DEFAULT_MESSAGE
    where = f"{automation.where}: spec.git.commit.messageTemplate"
    if ".Updated" in source:
        raise ValidationError(
            where, "the .Updated template data was removed from Flux; use .Changed"
        )
    try:
        template = parse(source, max_output=MAX_MESSAGE)
        text = template.render(template_data(automation, changes))
    except TemplateError as exc:
        raise ValidationError(where, str(exc)) from None
    return text if text.strip() else DEFAULT_MESSAGE

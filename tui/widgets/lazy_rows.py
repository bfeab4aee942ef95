"""LazyRows: the rows of a tree level, each made the first time it is asked for.

An app of 100,000 objects has 100,000 rows under its app row, of which a
screen shows twenty. Making a row (its label, its status cells, its detail
line, the rows under it) costs about ten microseconds: a second for all of
them. ``LazyRows`` holds the light items the rows are made of (the live
tree's nodes, already in the order shown) and a function that makes one row;
``ResourceTree`` asks for a row only to draw it or to act on it. What the
tree needs of a row it has not drawn (its id, whether it has children, the
text a ``/`` filter searches) comes from the item, without making the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Generic, TypeVar, overload

from gitwave.tui.widgets.tree_rows import TreeRow, filter_rows

__all__ = ["LazyRows", "find_index", "has_children", "row_id_at"]

Item = TypeVar("Item")


class LazyRows(Sequence[TreeRow], Generic[Item]):
    """The rows of ``items`` (see the module docstring).

    ``make`` makes the row of an item; ``ident`` its row id; ``branches``
    says whether its row has children; ``text`` is what a filter searches in
    it: its label, then the labels of what is under it, one a line, lower
    case. ``may_hold`` tells at a glance an id that cannot be here (another
    level's), so looking it up never makes the index of a big level.
    ``needle`` (set by ``filtered``): the rows made have only the children
    that match it.
    """

    __slots__ = (
        "_branches",
        "_ident",
        "_index",
        "_items",
        "_made",
        "_make",
        "_may_hold",
        "_text",
        "_texts",
        "needle",
    )

    def __init__(
        self,
        items: Sequence[Item],
        make: Callable[[Item], TreeRow],
        *,
        ident: Callable[[Item], str],
        branches: Callable[[Item], bool],
        text: Callable[[Item], str],
        may_hold: Callable[[str], bool] = lambda row_id: True,
        needle: str = "",
    ) -> None:
        self._items = items
        self._may_hold = may_hold
        self._make = make
        self._ident = ident
        self._branches = branches
        self._text = text
        self.needle = needle
        self._made: dict[int, TreeRow] = {}
        self._index: dict[str, int] | None = None
        # The filter's text of each item, made on the first filter and kept
        # for the next keys (a level of 100,000 rows is searched in a few ms).
        self._texts: list[str] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> TreeRow: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[TreeRow]: ...

    def __getitem__(self, index: int | slice) -> TreeRow | Sequence[TreeRow]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._items)
        row = self._made.get(index)
        if row is None:
            row = self._make(self._items[index])
            if self.needle:
                row = replace(row, children=filter_rows(row.children, self.needle))
            self._made[index] = row
        return row

    def __iter__(self) -> Iterator[TreeRow]:
        return (self[i] for i in range(len(self._items)))

    def id_at(self, index: int) -> str:
        """The id of row ``index``, without making the row."""
        return self._ident(self._items[index])

    def branches_at(self, index: int) -> bool:
        """Whether row ``index`` has children, without making the row."""
        item = self._items[index]
        if not self.needle:
            return self._branches(item)
        # Under a filter a row keeps the children that match: any line but its own.
        _, _, below = self.texts()[index].partition("\n")
        return self.needle in below

    def texts(self) -> list[str]:
        """What a filter searches in each item (see the class docstring)."""
        if self._texts is None:
            self._texts = [self._text(item) for item in self._items]
        return self._texts

    def index_of(self, row_id: str) -> int | None:
        """Where the row ``row_id`` is; None when it is not here. The index
        is made on the first call (only a refresh or a move needs it)."""
        if not self._may_hold(row_id):
            return None
        if self._index is None:
            self._index = {self._ident(item): i for i, item in enumerate(self._items)}
        return self._index.get(row_id)

    def filtered(self, needle: str) -> LazyRows[Item]:
        """The rows whose text holds ``needle`` (lower case), each with only
        the children that match it (``filter_rows``)."""
        texts = self.texts()
        kept = [i for i, text in enumerate(texts) if needle in text]
        rows = LazyRows(
            [self._items[i] for i in kept],
            self._make,
            ident=self._ident,
            branches=self._branches,
            text=self._text,
            may_hold=self._may_hold,
            needle=needle,
        )
        rows._texts = [texts[i] for i in kept]
        return rows


def find_index(rows: Sequence[TreeRow], row_id: str) -> int | None:
    """Where ``row_id`` is among ``rows`` (LazyRows without making rows)."""
    if isinstance(rows, LazyRows):
        return rows.index_of(row_id)
    return next((i for i, row in enumerate(rows) if row.id == row_id), None)


def has_children(rows: Sequence[TreeRow], index: int) -> bool:
    """Whether row ``index`` of ``rows`` has children (LazyRows: without making it)."""
    if isinstance(rows, LazyRows):
        return rows.branches_at(index)
    return bool(rows[index].children)


def row_id_at(rows: Sequence[TreeRow], index: int) -> str:
    """The id of row ``index`` of ``rows`` (LazyRows: without making it)."""
    if isinstance(rows, LazyRows):
        return rows.id_at(index)
    return rows[index].id

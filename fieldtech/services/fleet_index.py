"""In-memory search over the fleet: the `/` filter and the fuzzy finder (no textual).

Built once from the store's fleet rows (10,000 to 100,000); each keystroke then costs a few
ms. The haystack is lower-cased once; substring tests run in C, and a query that extends the
previous one only searches the previous matches.
"""

from __future__ import annotations

import heapq
import re
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import accumulate, chain, compress, islice, repeat, tee
from operator import attrgetter, contains, itemgetter, not_, or_
from typing import Any, NamedTuple

from fieldtech.domain.models import ControllerState
from fieldtech.domain.text import city_of, natural_key
from fieldtech.offline_store.store import FleetRow
from fieldtech.services.queries import FLEET_FIELDS, FLEET_FLAGS, FLEET_SORTS, Query, parse

_VALUE = attrgetter("_value_")
FINDER_LIMIT = 50
FUZZY_BELOW = 5
# Rows holding the first word read from the text, at most, before a query of several words
# goes back to a pass over every row (a row costs ~2 µs that way, ~0.1 µs in the pass).
READ_AT_MOST = 2_000
KEPT_MATCHES = 300_000  # row numbers kept from earlier queries (2.4 MB)
# An order built ahead, in a thread: a C sort of 100,000 strings keeps the interpreter ~40 ms
# (a key pressed then waits for it); sorted in runs of ORDER_RUN (~5 ms each) and merged
# ORDER_SLICE rows at a time (~10 ms), with the app's key wait between any two.
ORDER_RUN, ORDER_SLICE = 20_000, 10_000


class FleetIndex:
    """The fleet's rows and what searching them needs: one folded string a row.

    At 100,000 controllers every test runs in C over those strings (`map`, `compress`) and the
    ranking stops at the first `limit` of each tier: a Python loop per row cost 10–90 ms a
    keystroke there. A query no earlier one narrows (a pass over every row, 9-14 ms) looks for
    each tier's first rows in one string of every row instead, and stops there. Fuzzy matching
    scans one string of every row's names with a regular expression instead of a set of
    letters a row (76 MB at 100,000).
    """

    def __init__(self, rows: Sequence[FleetRow], between: Callable[[], object] = lambda: None):
        """`between()` is called after every few thousand rows of each pass of the build (a
        thread building it lets the app answer a key there: `FieldtechApp._keys_first`)."""
        self.rows = [r for r in rows if r.controller_id]  # controllers only

        def paced(items: Iterable[Any]) -> Iterator[Any]:
            return _paced(items, between)

        # Folded once per distinct text: a customer's controllers share one folded name and
        # address (at 100,000 controllers a str per row each was 9 MB more).
        folded: dict[str, str] = {}

        def fold(text: str) -> str:
            if (done := folded.get(text)) is None:
                done = folded[text] = text.casefold()
            return done

        self._names = [fold(r.name) for r in paced(self.rows)]
        self._customers = [fold(r.customer_name) for r in paced(self.rows)]
        # The serial first, so "the serial starts with" is a prefix test of the whole string;
        # a newline and tabs apart (a search word never holds one, so none spans two fields).
        self._hay = [f"{(r.serial or '').casefold()}\n{n}\t{k}\t{fold(r.address)}"
                     for r, n, k in paced(zip(self.rows, self._names, self._customers,
                                              strict=True))]
        # The same, every row in one string, each after a newline: a search for a word, or
        # for a newline and the word (a serial or a name starting with it), finds the rows in
        # list order in C and can stop at the first 50 (a pass over the 100,000 strings above
        # took 9-14 ms for "oa"; this, 2-4 ms when it must read to the end).
        self._text = "".join(f"\n{h}" for h in paced(self._hay))
        self._starts = array("i", accumulate((len(h) + 1 for h in paced(self._hay)), initial=0))
        # Fuzzy matching and "a word starts with" look at names only (near misses in addresses
        # and serials are noise): every row's " name customer", one a line (a word of either
        # starts after a space), and where each line starts.
        self._short = "".join(f" {n} {k}\n" for n, k in paced(zip(self._names, self._customers,
                                                                   strict=True)))
        self._line_starts = array("i", accumulate(
            (len(n) + len(k) + 3 for n, k in zip(self._names, self._customers, strict=True)),
            initial=0))
        # Rows by the first letter, and the first two, of their serial and of their name: the
        # ranking's first tier ("starts with") reads only these (in a seeded fleet of 100,000
        # no serial or name starts with "r", where 98,000 rows hold an "r"; 22,000 start with
        # "o", none with "oa").
        initials: dict[str, array[int]] = {}
        for i, (h, n) in enumerate(paced(zip(self._hay, self._names, strict=True))):
            for start in {h[:1], n[:1], h[:2], n[:2]} - {"", "\n"}:
                if "\n" not in start:
                    initials.setdefault(start, array("i")).append(i)
        self._initials = initials
        self._kept: dict[str, array[int]] = {}  # query → its matches, oldest first
        self._reading: _Reading | None = None  # the last first word looked for in the text
        cities: dict[str, str] = {}
        self._cities = [cities.setdefault(c := city_of(r.address), c) for r in paced(self.rows)]
        # What filters and sorts read, a list a column, each distinct value one object: the
        # rows lie in memory in the table's order, not the list's, and a pass over them read
        # 100,000 tuples scattered over 17 MB (18-25 ms); a pass over a column, 1-3 ms.
        self._columns = _columns(self.rows, self._names, self._customers, self._cities)
        self._ids: list[str] | None = None
        self._every_id: frozenset[str] | None = None
        # Sorting: every row in a column's order, built on the first sort by that column or
        # ahead of it (`prepare`, after the fleet is read).
        self._orders: dict[tuple[str, bool], array[int]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        """Each row's controller id, in the index's order (made on first use, or by
        `prepare`: a pass over the rows, part of the first sort's 50 ms)."""
        if self._ids is None:
            self._ids = list(map(itemgetter(0), self.rows))
        return self._ids

    @property
    def every_id(self) -> frozenset[str]:
        """Every controller's id (what `*` marks over a sort of the whole fleet), made on
        first use: a set of 100,000 took 19 ms of each `*`."""
        if self._every_id is None:
            self._every_id = frozenset(self.ids)
        return self._every_id

    def position(self, controller_id: str) -> int | None:
        """The row of a controller (None: not in the fleet), found in C."""
        try:
            return self.ids.index(controller_id)
        except ValueError:
            return None

    def filter(self, query: str) -> list[int]:
        """Indices of rows containing every word of `query`, in list order; `status:offline`,
        `membership:priority`, `alert` and the rest of `queries.FLEET_FIELDS` narrow further."""
        q = parse(query, FLEET_FIELDS, FLEET_FLAGS)
        if not q.structured:
            terms = query.casefold().split()
            if not terms:
                return list(range(len(self.rows)))
            return list(self._matching(terms, query.casefold()))  # a copy: the caller's own
        keep: Sequence[int] = (self._matching(q.words, q.text()) if q.words
                               else range(len(self.rows)))
        # Each condition is decided once a distinct value (5 states, a few hundred cities)
        # and applied to the rows in C: a row at a time in Python took 130–250 ms at 100,000.
        for values, test in self._conditions(q):
            keep = list(compress(keep, map(_Decided(test).__getitem__, values(keep))))
        return list(keep)

    def _conditions(self, q: Query) -> Iterator[tuple[Callable[[Sequence[int]], Iterator],
                                                      Callable[[object], bool]]]:
        """(each kept row's value, the test of one value) for every `field:` and flag."""
        columns = self._columns

        def column(name: str, test: Callable[[Any], bool]
                   ) -> tuple[Callable[[Sequence[int]], Iterable], Callable[[Any], bool]]:
            values = columns[name]
            if isinstance(values, _Coded):  # a code a row: the test is of what it stands for
                test = partial(_decoded, test, values.values)
                values = values.codes
            return (lambda keep: values if isinstance(keep, range) else map(
                values.__getitem__, keep)), test

        if "alert" in q.flags:
            yield column("fault", bool)
        if "pending" in q.flags:
            yield column("pending", bool)
        for name in q.fields:
            if name == "tag":
                yield column("tags", partial(_tagged, q))
            else:
                yield column(name, partial(q.matches, name))

    def sort(self, indices: Sequence[int], column: str) -> Sequence[int]:
        """`indices` ordered by a column of FLEET_SORTS ("-name": descending); rows with
        equal keys keep list order (customer, then controller name). Unknown: ValueError.
        Every row's: the column's order as built (not a copy: never change it)."""
        descending = column.startswith("-")
        column = column.lstrip("-")
        if column not in FLEET_SORTS:
            raise ValueError(f"“{column}” is not a column to sort by: "
                             + ", ".join(FLEET_SORTS) + ".")
        if column == "customer":  # the list's own order
            return sorted(indices, reverse=True) if descending else list(indices)
        order = self._orders.get((column, descending))
        if order is None:
            order = self._orders[column, descending] = self._order(column, descending)
        if len(indices) == len(self.rows):
            return order
        # A filtered list: the column's order read through a mask of the rows shown — in C,
        # where sorting the shown rows by their keys again took 40–60 ms at 100,000.
        shown = bytearray(len(self.rows))
        for i in indices:
            shown[i] = 1
        return list(compress(order, map(shown.__getitem__, order)))

    def prepare(self, cancelled: Callable[[], bool] = lambda: False,
                between: Callable[[], object] = lambda: None) -> None:
        """Build every column's order both ways, one at a time, until `cancelled()`: the
        first sort by a column then costs what a later one does (100,000 rows: the first took
        40-90 ms painted, a later one 2-9 ms). Meant for a thread after the fleet is read;
        `between()` (the app's key wait) is called between two orders and between the pieces
        of the serials' (one C sort of 100,000 strings: ~40 ms), so keys are answered first;
        what else keeps the interpreter in one C call is ≤ ~15 ms at 100,000."""
        self.ids  # noqa: B018  (where a sort puts the cursor's record)
        for column in FLEET_SORTS:
            for descending in (False, True):
                between()
                if cancelled():
                    return
                if column != "customer" and (column, descending) not in self._orders:
                    self._orders[column, descending] = self._order(column, descending,
                                                                   between)

    @property
    def prepared(self) -> bool:
        """Is every column's order built, both ways?"""
        return len(self._orders) == 2 * (len(FLEET_SORTS) - 1)

    def _order(self, column: str, descending: bool,
               between: Callable[[], object] | None = None) -> array[int]:
        """Every row in the column's order, equal keys in list order either way; with
        `between` (a thread building ahead), the serials are sorted in pieces with
        `between()` after each, else in one C call (a key waiting for it)."""
        n = len(self.rows)
        if column == "serial":
            # Serials are codes, not names: plain text order, none last (natural keys cost 6x
            # here). Each is unique, and the folded haystack starts with it: one string sort.
            hay = self._hay
            has = self._columns["serial"]  # 1: it has one
            serials = list(compress(range(n), has))
            bound = (_sorted(serials, hay.__getitem__, descending, between) if between
                     else sorted(serials, key=hay.__getitem__, reverse=descending))
            unbound = list(compress(range(n), map(not_, has)))
            return array("i", unbound + bound if descending else bound + unbound)
        values = self._columns[column]
        if isinstance(values, _Coded):  # each code's rank, then each row's
            if column == "status":
                place = {s.value: k for k, s in enumerate(ControllerState)}
                ranked = [place[v] for v in values.values]
            else:
                ranked = _ranks(values.values, natural_key if column != "firmware"
                                else _firmware_key)
            ranks = list(map(ranked.__getitem__, values.codes))
        else:
            ranks = _ranks(values, natural_key)
        # ints: one C sort of 100,000 keeps the interpreter ~10 ms, as a merge's slice does
        return array("i", sorted(range(n), key=ranks.__getitem__, reverse=descending))

    def search(self, query: str, limit: int = FINDER_LIMIT) -> list[FleetRow]:
        """The best `limit` rows for a finder query: exact words first, then fuzzy matches.

        Ranking: the whole query starts the serial or the controller's name ("entrance 7"),
        then the first word does and every word is in the name or the customer's name, then
        the first word starts the serial or name, then a word of the name or the customer's
        name starts with it, then a match anywhere; ties keep list order.
        """
        q = query.casefold().strip()
        terms = q.split()
        if not terms:
            return []
        hits: Sequence[int] | None
        if self._narrows(q):
            hits = self._matching(terms, q)
            ranked = self._best(hits, q, terms, limit)
        else:  # every row would be read: look in the text instead
            ranked, hits = self._found(q, terms, limit)
        # (No hits known: the list is full of exact hits.)
        if hits is not None and len(hits) < FUZZY_BELOW:
            # Few exact hits: also show near misses (typos, no vowels).
            ranked += self._fuzzy(terms, set(hits), limit - len(ranked))
        return [self.rows[i] for i in ranked]

    def city(self, i: int) -> str:
        return self._cities[i]

    def _matching(self, terms: list[str], key: str) -> Sequence[int]:
        """Rows holding every one of `terms` (`key`: the query they came from), in list
        order. Earlier queries' matches are kept (8 bytes a row, KEPT_MATCHES at most): a
        backspace finds its query there, and a longer query narrows the longest one it
        extends instead of scanning every row (100,000 rows: 5–13 ms a scan)."""
        if (hits := self._kept.pop(key, None)) is None:
            hay = self._hay
            base = self._base(key)
            if base is not None:
                found: Iterable[int] = self._kept[base]
            else:
                found = compress(range(len(hay)), map(contains, hay, repeat(terms[0])))
                terms = terms[1:]
            hits = array("l", _narrow(hay, found, terms))
        self._keep(key, hits)
        return hits

    def _base(self, key: str) -> str | None:
        """The longest earlier query that `key` extends and whose matches are few enough to
        narrow (narrowing a pool of most rows costs more than a scan of them all, which needs
        no look-up a row)."""
        base = max((k for k in self._kept if key.startswith(k)), key=len, default=None)
        return base if base is not None and len(self._kept[base]) < len(self.rows) // 4 else None

    def _narrows(self, key: str) -> bool:
        """Are `key`'s matches kept, or narrowed from an earlier query's (no scan of all)?"""
        return key in self._kept or self._base(key) is not None

    def _keep(self, key: str, hits: array[int]) -> None:
        kept = self._kept
        kept.pop(key, None)
        kept[key] = hits  # the newest last
        while sum(map(len, kept.values())) > KEPT_MATCHES and len(kept) > 1:
            del kept[next(iter(kept))]

    def _best(self, hits: Sequence[int], query: str, terms: list[str], limit: int) -> list[int]:
        """The first `limit` hits by rank tier, tier after tier, each read only as far as
        it takes to fill the list."""
        names, customers = self._names, self._customers
        term = terms[0]
        tiers: list[Iterable[int]] = [
            self._starting(hits, term, terms),
            # A word of the name or the customer's name starts with the first word.
            compress(hits, map(contains, map(" {} {}".format, map(names.__getitem__, hits),
                                             map(customers.__getitem__, hits)),
                               repeat(" " + term))),
            hits,
        ]
        if len(terms) > 1:  # (for one word these would be `starts` again: a scan for nothing)
            rest = terms[1:]
            tiers[:0] = [
                self._starting(hits, query, terms),
                (i for i in self._starting(hits, term, terms)
                 if all(t in f"{names[i]}\t{customers[i]}" for t in rest)),
            ]
        return _first(tiers, limit)

    def _found(self, query: str, terms: list[str], limit: int
               ) -> tuple[list[int], Sequence[int] | None]:
        """`search` where no earlier query narrows (a pass over every row: 9-14 ms). The first
        `limit` hits are looked for in the text: if there are no more, these are every hit,
        ranked by `_best` and kept; else each tier of `_best` is found from the initials and
        in the text, read only until the list is full, and the hits are None."""
        hay, names, customers = self._hay, self._names, self._customers
        term, rest = terms[0], terms[1:]
        every = array("l")
        read_all = [False]

        if self._reading is None or self._reading.word != term:
            self._reading = _Reading(self._text, self._starts, term)

        def anywhere() -> Iterator[int]:
            for n, i in enumerate(self._reading):
                if rest and n >= READ_AT_MOST:
                    return  # the other words are rare in these rows: see below
                if not rest or all(t in hay[i] for t in rest):
                    every.append(i)
                    yield i
            read_all[0] = True

        hits = anywhere()
        first = list(islice(hits, limit))
        if read_all[0]:  # a rare word: these are all
            self._keep(query, every)
            return self._best(every, query, terms, limit), every
        if len(first) < limit:  # words common apart, rare together ("os- ft1")
            found = self._matching(terms, query)
            return self._best(found, query, terms, limit), found

        def holding(rows: Iterable[int]) -> Iterator[int]:
            return (i for i in rows if all(t in hay[i] for t in rest)) if rest else iter(rows)

        # A word of the names starts with the first word: up to the last hit read, those of
        # the hits read; after it, from the names' text.
        word = " " + term
        words_start = chain(
            (i for i in first if word in f" {names[i]} {customers[i]}"),
            holding(_lines_holding(self._short, self._line_starts, word, first[-1] + 1)))
        # The serial or the name starts with the first word (read once for two tiers).
        starting, starting_too = tee(holding(self._starting(None, term)))
        tiers: list[Iterable[int]] = [starting, words_start, chain(first, hits)]
        if rest:
            tiers[:0] = [
                holding(self._starting(None, query)),
                (i for i in starting_too
                 if all(t in f"{names[i]}\t{customers[i]}" for t in rest)),
            ]
        return _first(tiers, limit), None

    def _starting(self, hits: Sequence[int] | None, prefix: str, terms: Sequence[str] = ()
                  ) -> Iterator[int]:
        """Those of `hits` (the rows holding every one of `terms`; None: every row) whose
        serial or name starts with `prefix`, lazily, in list order; read from the fewer of
        `hits` and the rows with a serial or a name that starts as it does."""
        initial = self._initials.get(prefix[:2], array("i"))
        pool: Sequence[int] = hits if hits is not None and len(hits) <= len(initial) \
            else initial
        # Lazily: the first tier is read only until the list is full.
        found = compress(pool, map(or_,
                                   map(str.startswith, map(self._hay.__getitem__, pool),
                                       repeat(prefix)),
                                   map(str.startswith, map(self._names.__getitem__, pool),
                                       repeat(prefix))))
        if pool is hits or not terms or (len(terms) == 1 and terms[0] == prefix):
            return found  # (a row whose name starts with the one word holds it)
        hay = self._hay
        return (i for i in found if all(t in hay[i] for t in terms))

    def _fuzzy(self, terms: list[str], exclude: set[int], limit: int) -> list[int]:
        """The first `limit` rows not in `exclude` where each term's letters appear in order
        in the name or the customer's name (frnt yrd → Front yard), in list order."""
        first = re.compile(".*?".join(map(re.escape, terms[0])))
        others = [re.compile(".*?".join(map(re.escape, t))) for t in terms[1:]]
        text, starts = self._short, self._line_starts
        out: list[int] = []
        if limit <= 0:
            return out
        # Over every row's names at once: the regular expression skips to the first letter in
        # C and never crosses a line; Python sees only the lines that match.
        for i in _lines_matching(text, starts, first):
            if i not in exclude and all(p.search(text, starts[i], starts[i + 1])
                                        for p in others):
                out.append(i)
                if len(out) >= limit:
                    break
        return out


def _narrow(hay: list[str], rows: Iterable[int], terms: list[str]) -> Iterable[int]:
    """Those of `rows` whose folded text holds every one of `terms` (tested in C)."""
    for t in terms:
        rows = list(rows)
        rows = compress(rows, map(contains, _gather(hay, rows), repeat(t)))
    return rows


class _Reading:
    """The rows holding a word, as far as they have been read from the text: the next keys
    of a query ("rosa p", "rosa pa") mostly keep its first word, and read these again."""

    def __init__(self, text: str, starts: array[int], word: str):
        self.word = word
        self._rows = array("l")
        self._more: Iterator[int] | None = _lines_holding(text, starts, word)

    def __iter__(self) -> Iterator[int]:
        rows, n = self._rows, 0
        while True:
            if n < len(rows):
                yield rows[n]
                n += 1
            elif self._more is None or (i := next(self._more, None)) is None:
                self._more = None  # every row holding it read
                return
            else:
                rows.append(i)


def _first(tiers: list[Iterable[int]], limit: int) -> list[int]:
    """The first `limit` distinct rows of the tiers, tier after tier."""
    out: list[int] = []
    taken: set[int] = set()
    for tier in tiers:
        for i in tier:
            if i not in taken:
                out.append(i)
                taken.add(i)
                if len(out) >= limit:
                    return out
    return out


def _lines_holding(text: str, starts: array[int], words: str, line: int = 0
                   ) -> Iterator[int]:
    """The lines of `text` (line i from starts[i]) from `line` on that hold `words`, in
    order, lazily."""
    return _lines_matching(text, starts, re.compile(re.escape(words)), line)


def _lines_matching(text: str, starts: array[int], pattern: re.Pattern[str], line: int = 0
                    ) -> Iterator[int]:
    """The lines of `text` from `line` on where `pattern` matches, in order, lazily: the
    search for the next runs in C from the line after the last one found (a pattern never
    spans two lines)."""
    search = pattern.search
    at = starts[line]
    while found := search(text, at):
        i = bisect_right(starts, found.start()) - 1
        yield i
        at = starts[i + 1]


def _gather(values: list, indices: Sequence[int]) -> Sequence:
    """values[i] for each of `indices`, gathered in C (a map of __getitem__ cost ~3x more)."""
    if len(indices) > 1:
        return itemgetter(*indices)(values)
    return [values[i] for i in indices]


class InOrder(Sequence[FleetRow]):
    """Rows of an index in another order (a sort, a filter): a view, not a new list. At
    100,000 controllers a list of the rows in an order that is not the memory's took 20–30
    ms to build, and as much again for the list of their ids; this reads the rows it shows."""

    def __init__(self, index: FleetIndex, order: Sequence[int]):
        self._index, self._rows, self._order = index, index.rows, order
        self._shown: frozenset[str] | None = None

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, i: int) -> FleetRow:  # type: ignore[override]  # no slices
        return self._rows[self._order[i]]

    def __iter__(self) -> Iterator[FleetRow]:
        return map(self._rows.__getitem__, self._order)

    def place_of(self, controller_id: str) -> int | None:
        """Where a controller is in this order (None: not shown), found in C."""
        position = self._index.position(controller_id)
        if position is None:
            return None
        try:
            return self._order.index(position)
        except ValueError:
            return None

    def controller_ids(self) -> frozenset[str]:
        """The controllers shown, kept (a view never changes): a sort of the whole fleet
        shows every one of the index's."""
        if self._shown is None:
            self._shown = (self._index.every_id if len(self._order) == len(self._rows)
                           else frozenset(map(self._index.ids.__getitem__, self._order)))
        return self._shown


class _Decided(dict):
    """A test's answer for each distinct value, asked once a value (the rest are C lookups)."""

    def __init__(self, test: Callable[[Any], bool]):
        super().__init__()
        self.test = test

    def __missing__(self, value: Any) -> bool:
        answer = self[value] = self.test(value)
        return answer


def _paced(items: Iterable[Any], between: Callable[[], object], every: int = 5_000
           ) -> Iterator[Any]:
    """`items`, calling `between()` after each `every` of them (~5 ms of a pass at 100,000)."""
    it = iter(items)
    while chunk := list(islice(it, every)):
        yield from chunk
        between()


def _columns(rows: list[FleetRow], names: list[str], customers: list[str],
             cities: list[str]) -> dict[str, Sequence | _Coded]:
    """Each column filters and sorts read, by the name `field:` uses, one value a row in
    the rows' order: the few-valued ones as a code a row (a byte when there are at most 256
    values), `fault`, `pending` and `serial` only whether there is one; names, customers
    and cities are the search's own lists (folded names: their natural order, and what
    `customer:` tests, fold them anyway)."""
    def field(name: str) -> Iterator:
        return map(itemgetter(FleetRow._fields.index(name)), rows)

    def has(name: str) -> bytes:
        return bytes(map(bool, field(name)))

    return {"status": _coded(map(_VALUE, field("state"))), "model": _coded(field("model")),
            "membership": _coded(field("membership")),
            "firmware": _coded(map(_or_blank, field("firmware"))), "tags": _coded(field("tags")),
            "name": names, "customer": customers, "city": cities,
            "serial": has("serial"), "fault": has("fault"), "pending": has("pending")}


class _Coded(NamedTuple):
    """A column as a code a row, and the distinct values the codes stand for."""

    codes: Sequence[int]
    values: list


def _coded(values: Iterable) -> _Coded:
    table: dict[Any, int] = {}
    # (each value's code is the table's size when it was first met: `len` runs in step)
    codes = list(map(table.setdefault, values, map(len, repeat(table))))
    return _Coded(bytes(codes) if len(table) <= 256 else array("i", codes), list(table))


def _decoded(test: Callable[[Any], bool], values: list, code: int) -> bool:
    return test(values[code])


def _or_blank(text: str | None) -> str:
    return text or ""


def _sorted(items: Sequence[int], key: Callable[[int], Any], reverse: bool,
            between: Callable[[], object]) -> list[int]:
    """`sorted(items, key=key, reverse=reverse)`, ties in list order as there, in pieces:
    runs of ORDER_RUN sorted in C, then merged ORDER_SLICE at a time (heapq.merge is stable:
    a tie comes from the earlier run first), `between()` after each piece."""
    runs = []
    for start in range(0, len(items), ORDER_RUN):
        runs.append(sorted(items[start:start + ORDER_RUN], key=key, reverse=reverse))
        between()
    if len(runs) < 2:
        return runs[0] if runs else []
    merged = heapq.merge(*runs, key=key, reverse=reverse)
    ordered: list[int] = []
    while piece := list(islice(merged, ORDER_SLICE)):
        ordered += piece
        between()
    return ordered


def _ranks(values: Sequence[str], key: Callable[[str], tuple]) -> list[int]:
    """Each value's place among the distinct values by `key` (equal keys, equal places). A
    fleet has few distinct names, models and cities (hundreds at 100,000 controllers): each
    key is built once a value, not once a row, and the rows then sort by an int."""
    distinct = set(values)
    by_key: dict[tuple, int] = {}
    for value in sorted(distinct, key=key):
        by_key.setdefault(key(value), len(by_key))  # two spellings of one key: one place
    place = {value: by_key[key(value)] for value in distinct}
    return list(map(place.__getitem__, values))


def _firmware_key(firmware: str) -> tuple:
    return natural_key(firmware) if firmware else ((2, ""),)  # none reported last


def _tagged(q: Query, tags: str) -> bool:
    """`tag:hoa,spring`: some tag of the row starts with one of the values."""
    wanted = q.fields.get("tag")
    if wanted is None:
        return True
    return any(t.startswith(w) for t in tags.split() for w in wanted)

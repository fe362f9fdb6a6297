"""In-memory search over the fleet: the `/` filter and the fuzzy finder (no textual).

Built once from the store's fleet rows (~10,000); each keystroke then costs a few ms. The
haystack is lower-cased once; substring tests run in C, and a query that extends the previous
one only searches the previous matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from fieldtech.domain.text import city_of, natural_key
from fieldtech.offline_store.store import FleetRow
from fieldtech.services.queries import FLEET_FIELDS, FLEET_FLAGS, FLEET_SORTS, Query, parse

FINDER_LIMIT = 50
FUZZY_BELOW = 5


class FleetIndex:
    def __init__(self, rows: Sequence[FleetRow]):
        self.rows = [r for r in rows if r.controller_id]  # controllers only
        # Folded once per distinct name: a customer's controllers share one folded name (at
        # 100,000 controllers a str per row each was 9 MB more).
        folded: dict[str, str] = {}

        def fold(text: str) -> str:
            if (done := folded.get(text)) is None:
                done = folded[text] = text.casefold()
            return done

        self._names = [fold(r.name) for r in self.rows]
        self._customers = [fold(r.customer_name) for r in self.rows]
        self._serials = [(r.serial or "").casefold() for r in self.rows]
        self._hay = [
            f"{n}\t{k}\t{r.address.casefold()}\t{s}"
            for r, n, k, s in zip(self.rows, self._names, self._customers, self._serials,
                                  strict=True)
        ]
        # Fuzzy matching looks at names only: near misses in addresses and serials are noise.
        self._short = [f"{n}\t{k}" for n, k in zip(self._names, self._customers, strict=True)]
        self._last: tuple[str, list[int]] = ("", list(range(len(self.rows))))
        self._letters: list[frozenset[str]] | None = None
        self._last_fuzzy: tuple[str, list[int]] = ("", [])
        self._cities = [city_of(r.address) for r in self.rows]
        self._sort_keys: dict[str, list] = {}  # column -> each row's key, built on first use

    def __len__(self) -> int:
        return len(self.rows)

    def filter(self, query: str) -> list[int]:
        """Indices of rows containing every word of `query`, in list order; `status:offline`,
        `membership:priority`, `alert` and the rest of `queries.FLEET_FIELDS` narrow further."""
        q = parse(query, FLEET_FIELDS, FLEET_FLAGS)
        if not q.structured:
            terms = query.casefold().split()
            if not terms:
                return list(range(len(self.rows)))
            return self._matching(terms, query.casefold())
        pool = self._matching(q.words, q.text()) if q.words else range(len(self.rows))
        rows, cities = self.rows, self._cities
        return [i for i in pool if _passes(q, rows[i], cities[i])]

    def sort(self, indices: list[int], column: str) -> list[int]:
        """`indices` ordered by a column of FLEET_SORTS ("-name": descending); rows with
        equal keys keep list order (customer, then controller name). Unknown: ValueError."""
        descending = column.startswith("-")
        column = column.lstrip("-")
        if column not in FLEET_SORTS:
            raise ValueError(f"“{column}” is not a column to sort by: "
                             + ", ".join(FLEET_SORTS) + ".")
        if column == "customer":  # the list's own order
            return sorted(indices, reverse=True) if descending else list(indices)
        keys = self._sort_keys.get(column)
        if keys is None:
            keys = self._sort_keys[column] = self._column_keys(column)
        return sorted(indices, key=keys.__getitem__, reverse=descending)

    def _column_keys(self, column: str) -> list:
        rows = self.rows
        if column == "name":
            return [natural_key(r.name) for r in rows]
        if column == "status":
            order = {s: n for n, s in enumerate(type(rows[0].state))} if rows else {}
            return [order[r.state] for r in rows]
        if column == "city":
            return [natural_key(c) for c in self._cities]
        if column == "firmware":  # none reported last
            return [natural_key(r.firmware) if r.firmware else ((2, ""),) for r in rows]
        if column == "model":
            return [natural_key(r.model) for r in rows]
        # Serials are codes, not names: plain text order (natural keys cost 6x here).
        return [r.serial.casefold() if r.serial else "\uffff" for r in rows]

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
        hits = self._matching(terms, q)
        ranked = self._best(hits, q, terms, limit)
        if len(hits) < FUZZY_BELOW:  # few exact hits: also show near misses (typos, no vowels)
            ranked += self._fuzzy(terms, set(hits), limit - len(ranked))
        return [self.rows[i] for i in ranked]

    def city(self, i: int) -> str:
        return self._cities[i]

    def _matching(self, terms: list[str], key: str) -> list[int]:
        last_key, last_hits = self._last
        # A longer query only narrows: search the previous matches, not all 10,000 rows.
        pool = last_hits if last_key and key.startswith(last_key) else range(len(self.rows))
        hay = self._hay
        if len(terms) == 1:
            t = terms[0]
            hits = [i for i in pool if t in hay[i]]
        else:
            hits = [i for i in pool if all(t in hay[i] for t in terms)]
        self._last = (key, hits)
        return hits

    def _best(self, hits: list[int], query: str, terms: list[str], limit: int) -> list[int]:
        """The first `limit` hits by rank tier, scanning tier by tier and stopping when full."""
        names, serials, customers, short = self._names, self._serials, self._customers, self._short
        term = terms[0]
        word = " " + term

        def starts(i: int) -> bool:
            return serials[i].startswith(term) or names[i].startswith(term)

        tiers: list[Callable[[int], bool]] = [
            starts,
            lambda i: word in " " + names[i] or word in " " + customers[i],
            lambda i: True,
        ]
        if len(terms) > 1:  # (for one word these would be `starts` again: a scan for nothing)
            tiers[:0] = [
                lambda i: serials[i].startswith(query) or names[i].startswith(query),
                lambda i: starts(i) and all(t in short[i] for t in terms[1:]),
            ]
        out: list[int] = []
        taken: set[int] = set()
        for in_tier in tiers:
            for i in hits:
                if i not in taken and in_tier(i):
                    out.append(i)
                    taken.add(i)
                    if len(out) >= limit:
                        return out
        return out

    def _fuzzy(self, terms: list[str], exclude: set[int], limit: int) -> list[int]:
        """Rows where each term's letters appear in order (frnt yrd → Front yard)."""
        key = " ".join(terms)
        last_key, last_hits = self._last_fuzzy
        # As with substrings, a longer query only narrows the previous fuzzy matches.
        pool = last_hits if last_key and key.startswith(last_key) else range(len(self._short))
        pattern = re.compile(".*?".join(map(re.escape, terms[0])))
        others = [re.compile(".*?".join(map(re.escape, t))) for t in terms[1:]]
        letters = frozenset(key.replace(" ", ""))
        row_letters = self.letters()
        hay = self._short
        hits = [
            i for i in pool
            if letters <= row_letters[i] and pattern.search(hay[i])
            and all(p.search(hay[i]) for p in others)
        ]
        self._last_fuzzy = (key, hits)
        return [i for i in hits if i not in exclude][:limit]

    def letters(self) -> list[frozenset[str]]:
        """Each row's set of letters, for a C-speed first test; built once (~40 ms)."""
        if self._letters is None:
            self._letters = [frozenset(h) for h in self._short]
        return self._letters


def _passes(q: Query, row: FleetRow, city: str) -> bool:
    if "alert" in q.flags and not row.fault:
        return False
    if "pending" in q.flags and not row.pending:
        return False
    return (q.matches("status", row.state.value) and q.matches("membership", row.membership)
            and q.matches("model", row.model) and q.matches("customer", row.customer_name)
            and q.matches("city", city) and q.matches("firmware", row.firmware)
            and _tagged(q, row.tags))


def _tagged(q: Query, tags: str) -> bool:
    """`tag:hoa,spring`: some tag of the row starts with one of the values."""
    wanted = q.fields.get("tag")
    if wanted is None:
        return True
    return any(t.startswith(w) for t in tags.split() for w in wanted)

"""The filter syntax every list shares (fleet, triage): words, plus `field:value` and flags.

    front yard status:offline membership:priority alert

Words match the text as before (every word somewhere in the line); `field:value` keeps rows
whose field starts with the value (case-insensitive; `field:a,b` is either); a flag word keeps
rows that have it. Unknown fields are an error the list shows, not a silent empty list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Fields and flags each list understands, for the help screen and the error message.
FLEET_FIELDS = {"status": "online, offline, not_linked, out_of_sync, waiting",
                "membership": "none, standard, essentials, priority, proactive",
                "model": "e.g. model:os", "customer": "a customer's name",
                "city": "from the customer's address, e.g. city:tucson",
                "firmware": "as the device last reported, e.g. firmware:2.1",
                "tag": "a tag of the controller or its customer, e.g. tag:hoa"}
FLEET_FLAGS = {"alert": "a fault is reported", "pending": "edits not yet in the cloud"}
# Columns the fleet sorts by (O cycles them): names in natural order ("Bulk 2" before "Bulk 10").
FLEET_SORTS = {"customer": "customer, then controller (grouped)", "name": "controller name",
               "status": "online, offline, …", "model": "model", "city": "city",
               "firmware": "firmware", "serial": "serial"}
TRIAGE_FIELDS = {"state": "open, acknowledged, snoozed",
                 "sev": "critical, warning, info",
                 "membership": "none, standard, essentials, priority, proactive",
                 "assignee": "a staff e-mail, or 'none'", "what": "e.g. what:offline"}
TRIAGE_FLAGS = {"breaching": "past the response time", "mine": "assigned to me"}


@dataclass(frozen=True)
class Query:
    words: list[str] = field(default_factory=list)  # casefolded
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> any of
    flags: frozenset[str] = frozenset()
    error: str | None = None

    @property
    def structured(self) -> bool:
        return bool(self.fields or self.flags)

    def text(self) -> str:
        """The plain words, for the text match."""
        return " ".join(self.words)

    def matches(self, name: str, value: str | None) -> bool:
        """Does `value` pass the `name:` condition (true when there is none)?"""
        wanted = self.fields.get(name)
        if wanted is None:
            return True
        have = (value or "").casefold()
        return any(have.startswith(w) for w in wanted)


def parse(text: str, fields: dict[str, str], flags: dict[str, str]) -> Query:
    words: list[str] = []
    found: dict[str, tuple[str, ...]] = {}
    on: set[str] = set()
    error = None
    for token in text.casefold().split():
        name, sep, value = token.partition(":")
        if sep and name:
            if name not in fields:
                error = (f"“{name}:” is not a filter here: use "
                         + ", ".join(f"{f}:" for f in fields) + " or words.")
                continue
            found[name] = tuple(v for v in value.split(",") if v) or ("",)
        elif token in flags:
            on.add(token)
        else:
            words.append(token)
    return Query(words, found, frozenset(on), error)


def help_lines(fields: dict[str, str], flags: dict[str, str]) -> list[tuple[str, str]]:
    """(syntax, meaning) rows for a help screen."""
    return ([(f"{name}:…", meaning) for name, meaning in fields.items()]
            + [(name, meaning) for name, meaning in flags.items()])

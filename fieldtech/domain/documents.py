"""Synced documents: record kinds beyond customers and controllers, one mechanism for all.

A document is a small JSON object of one registered kind (a membership tier, an agreement, a
time entry, a work order…) with a client-chosen id and a revision. It is created offline,
queued in the outbox, pushed in the sync batch, pulled through the change log and merged
field by field on a 412 exactly like a customer. Each issue registers its kinds in its own
domain module (domain/contracts.py registers the billing ones) and lists that module in
KIND_MODULES below, so the store, the sync engine and the cloud all know every kind.

No textual, no SQL, no HTTP here: plain data and validation.
"""

from __future__ import annotations

import importlib
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fieldtech.domain.errors import FieldError, NotFound, ValidationError

# Modules that register document kinds when imported (append yours; order does not matter).
KIND_MODULES: list[str] = ["fieldtech.domain.contracts", "fieldtech.domain.work_orders"]

KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DOCUMENT_BYTES_MAX = 16_000  # one document's JSON; a work order with notes fits many times over
DOCUMENT_FIELDS_MAX = 64
RESERVED_FIELDS = frozenset({"id", "revision"})  # said by the envelope, not the data

Validator = Callable[[dict[str, Any]], list[FieldError]]


@dataclass(frozen=True)
class DocumentKind:
    """What the system needs to know about one kind of document."""

    name: str  # "agreement": the wire name, also the store's `kind` column
    validate: Validator  # data → every problem (empty: valid), the messages a person reads
    # The field naming the customer the document belongs to (isolation, deletion, held-back
    # edits); None: account-wide (a catalogue tier).
    customer_field: str | None = None
    # Who may read and write it in the cloud: None = every staff member, "billing" = owners
    # and staff with the billing permission (money).
    permission: str | None = None
    max_bytes: int = DOCUMENT_BYTES_MAX
    label: str = ""  # "agreement" as a person says it (pending changes, errors)
    # The ids of other documents this one uses (an agreement: its tier and packages): those
    # cannot be deleted while it does, here or in the cloud.
    refers_to: Callable[[dict[str, Any]], Iterable[str]] | None = None

    @property
    def words(self) -> str:
        return self.label or self.name.replace("_", " ")

    def customer_of(self, data: dict[str, Any]) -> str | None:
        if self.customer_field is None:
            return None
        value = data.get(self.customer_field)
        return str(value) if value else None


_KINDS: dict[str, DocumentKind] = {}
_loaded = False
_LOAD_LOCK = threading.RLock()


def register(kind: DocumentKind) -> DocumentKind:
    """Make a kind known (at import of the module defining it). Registering the same name
    twice with a different definition is a programming error."""
    if not KIND_RE.match(kind.name):
        raise ValueError(f"document kind {kind.name!r}: lowercase letters, digits, _")
    held = _KINDS.get(kind.name)
    if held is not None and held != kind:
        raise ValueError(f"document kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def _load() -> None:
    """Import the kind modules once. Under a lock, and marked loaded only after them: the
    first call may come from two worker threads at once, and the second must not see no
    kinds (a document's customer read as None). Re-entrant: a kind module's import may ask."""
    global _loaded
    if _loaded:
        return
    with _LOAD_LOCK:
        if not _loaded:
            for module in KIND_MODULES:
                importlib.import_module(module)
            _loaded = True


def kinds() -> dict[str, DocumentKind]:
    """Every registered kind, by name."""
    _load()
    return dict(_KINDS)


def kind_of(name: str) -> DocumentKind:
    """The registered kind `name`; NotFound (saying which exist) if there is none."""
    _load()
    found = _KINDS.get(name) if isinstance(name, str) else None
    if found is None:
        known = ", ".join(sorted(_KINDS)) or "none"
        raise NotFound(f"No kind of record called {name!r} (known: {known}).")
    return found


def still_used(document_id: str, documents: Iterable[tuple[str, dict[str, Any]]]) -> str | None:
    """Why a document cannot be deleted: other documents (kind, data) that use it, or None."""
    users: dict[str, int] = {}
    for kind_name, data in documents:
        kind = _KINDS.get(kind_name)
        if kind is not None and kind.refers_to is not None and document_id in kind.refers_to(data):
            users[kind.words] = users.get(kind.words, 0) + 1
    if not users:
        return None
    said = ", ".join(f"{n} {words}{'s' if n > 1 else ''}" for words, n in sorted(users.items()))
    return f"{said} still use{'s' if sum(users.values()) == 1 else ''} it: change them first."


def referring_kinds() -> list[str]:
    """Kinds whose documents may use other documents (what a delete must look through)."""
    _load()
    return sorted(k.name for k in _KINDS.values() if k.refers_to is not None)


def check_document(kind_name: str, data: Any) -> dict[str, Any]:
    """`data` as a valid document of this kind, or ValidationError listing every problem.

    Size and shape are checked before the kind's own validator sees anything, so a huge or
    odd body costs one json.dumps and nothing more."""
    try:
        kind = kind_of(kind_name)
    except NotFound as exc:
        raise ValidationError([FieldError("kind", str(exc))]) from None
    if not isinstance(data, dict):
        raise ValidationError([FieldError("", "Expected a table of fields.")])
    try:
        size = len(json.dumps(data, allow_nan=False).encode())
    except (TypeError, ValueError):
        raise ValidationError([FieldError("", "Only text, numbers, true/false, lists and "
                                              "tables can be stored (no NaN or infinity).")]
                              ) from None
    if size > kind.max_bytes:
        raise ValidationError([FieldError("", f"A {kind.words} is at most {kind.max_bytes} "
                                              f"bytes ({size} given).")])
    if len(data) > DOCUMENT_FIELDS_MAX:
        raise ValidationError([FieldError("", f"At most {DOCUMENT_FIELDS_MAX} fields.")])
    reserved = sorted(RESERVED_FIELDS & set(data))
    errors = [FieldError(f, "Set by the system, not in the fields.") for f in reserved]
    errors += kind.validate(data)
    if errors:
        raise ValidationError(errors)
    return data


@dataclass(frozen=True)
class Document:
    """One document as held: its kind, id, fields and the cloud revision it is at (0: never
    synced)."""

    kind: str
    id: str
    data: dict[str, Any]
    revision: int = 0
    customer_id: str | None = None


def without_nones(data: dict[str, Any]) -> dict[str, Any]:
    """The rule for every document edit, here and in the cloud: a field set to None is
    removed (so "no price override" is the field's absence, on both sides alike)."""
    return {k: v for k, v in data.items() if v is not None}

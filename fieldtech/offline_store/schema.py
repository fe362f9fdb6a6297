"""The store's schema as numbered migrations; PRAGMA user_version says which have run."""

from __future__ import annotations

import sqlite3

from fieldtech.domain.text import natural_sort_text

# Append only: a shipped migration never changes, a new one is added at the end.
MIGRATIONS: list[str] = [
    # 1: records, base copies, the outbox, sync cursors, recents.
    """
    CREATE TABLE account (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        tier TEXT NOT NULL,
        custom_limits TEXT,            -- JSON, Platinum only
        controllers_used INTEGER,      -- last known from the cloud (NULL: never synced)
        enthusiast_used INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE customer (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        email TEXT NOT NULL DEFAULT '',
        phone TEXT NOT NULL DEFAULT '',
        address TEXT NOT NULL DEFAULT '',
        plan TEXT NOT NULL DEFAULT 'home',
        self_management TEXT NOT NULL DEFAULT 'none',
        membership TEXT NOT NULL DEFAULT 'none',
        revision INTEGER NOT NULL DEFAULT 0      -- 0: never synced
    );
    CREATE TABLE controller (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL REFERENCES customer(id),
        name TEXT NOT NULL,
        model TEXT NOT NULL,
        zone_count INTEGER NOT NULL,
        serial TEXT,                   -- NULL: not linked
        timezone TEXT NOT NULL DEFAULT 'UTC',
        location TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'not_linked',
        fault TEXT,                    -- the device's last reported fault, if any
        last_contact TEXT,
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX controller_customer ON controller(customer_id);
    -- The configuration document apart, so scanning the fleet list never reads it.
    CREATE TABLE controller_config (
        controller_id TEXT PRIMARY KEY REFERENCES controller(id) ON DELETE CASCADE,
        config TEXT NOT NULL           -- JSON ControllerConfig
    );
    -- Each record as last synced: the base of three-way merges.
    CREATE TABLE base (
        entity TEXT NOT NULL,
        id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (entity, id)
    );
    -- Every local edit, in order. id is the request's Idempotency-Key.
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        op TEXT NOT NULL,              -- create | update | delete
        entity TEXT NOT NULL,          -- customer | controller
        entity_id TEXT NOT NULL,
        patch TEXT NOT NULL,           -- JSON: the fields this edit set
        base_revision INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',
        message TEXT                   -- why it is rejected / in conflict, for the user
    );
    CREATE INDEX outbox_entity ON outbox(entity, entity_id);
    CREATE INDEX outbox_state ON outbox(state);
    CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE recent (controller_id TEXT PRIMARY KEY, used_at REAL NOT NULL);
    """,
    # 2: sync. The configuration is its own document with its own revision (as in the cloud),
    # so it gets its own base copy and its own outbox rows; an item being sent keeps the exact
    # request (`sent`) so a retry after a crash is byte-for-byte the same; conflicts keep the
    # cloud's copy until the user settles them.
    """
    ALTER TABLE controller ADD COLUMN config_revision INTEGER NOT NULL DEFAULT 0;
    UPDATE controller SET config_revision = revision;
    ALTER TABLE outbox ADD COLUMN sent TEXT;
    CREATE TABLE conflict (
        entity TEXT NOT NULL,          -- customer | controller | config
        id TEXT NOT NULL,
        revision INTEGER NOT NULL,     -- the cloud's revision of `theirs`
        theirs TEXT NOT NULL,          -- JSON: the cloud's copy
        fields TEXT NOT NULL,          -- JSON list of field paths changed on both sides
        PRIMARY KEY (entity, id)
    );
    INSERT OR REPLACE INTO base
        SELECT 'config', id, revision, json(json_extract(data, '$.config'))
        FROM base WHERE entity = 'controller' AND json_extract(data, '$.config') IS NOT NULL;
    UPDATE base SET data = json_remove(data, '$.config') WHERE entity = 'controller';
    UPDATE outbox SET entity = 'config'
        WHERE entity = 'controller' AND op = 'update'
        AND json_extract(patch, '$.config') IS NOT NULL
        AND (SELECT count(*) FROM json_each(outbox.patch)) = 1;
    INSERT INTO outbox (id, created_at, op, entity, entity_id, patch, base_revision, state,
                        message)
        SELECT id || '.config', created_at, 'update', 'config', entity_id,
               json_object('config', json(json_extract(patch, '$.config'))), base_revision,
               state, message
        FROM outbox WHERE entity = 'controller' AND op = 'update'
        AND json_extract(patch, '$.config') IS NOT NULL;
    UPDATE outbox SET patch = json_remove(patch, '$.config')
        WHERE entity = 'controller' AND op = 'update'
        AND json_extract(patch, '$.config') IS NOT NULL;
    """,
    # 3: a refused edit keeps the kind of refusal (the problem type, e.g. quota-exceeded), so
    # `fieldtech sync` can say "needs a plan upgrade" for as long as it waits, not only once.
    """
    ALTER TABLE outbox ADD COLUMN problem TEXT;
    """,
    # 4: what the controllers report, as the cloud last said (live.py): incidents, device
    # states and remote commands. The cloud's records alone: kept as its JSON.
    """
    CREATE TABLE incident (
        id TEXT PRIMARY KEY,
        controller_id TEXT,
        customer_id TEXT,
        state TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX incident_state ON incident(state);
    CREATE TABLE device_state (
        controller_id TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE command (
        id TEXT PRIMARY KEY,
        controller_id TEXT,
        state TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX command_controller ON command(controller_id);
    """,
    # 5 (issue 15): synced documents (fieldtech.domain.documents): tiers, agreements, time
    # entries, work orders… one table; their base copies, outbox rows and conflicts use the
    # tables above with entity 'document'.
    """
    CREATE TABLE document (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        customer_id TEXT,              -- NULL: account-wide (a catalogue tier)
        data TEXT NOT NULL,            -- JSON: the kind's fields
        revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX document_kind ON document(kind, customer_id);
    CREATE INDEX document_customer ON document(customer_id);
    -- Documents by their date (a time entry's day, a work order's due date): a month's
    -- report reads that month of 100,000 time entries, not all of them.
    CREATE INDEX document_date ON document(kind, json_extract(data, '$.date'));
    """,
    # 6 (issue 16): tags on customers and controllers (synced like any field; base copies
    # get the empty value so a merge never sees the field appear); campaigns: one bulk change
    # over many records, each record's edit an outbox row carrying the campaign's id, so the
    # pending screen can discard the campaign as one; per record its state after the sync.
    """
    ALTER TABLE customer ADD COLUMN tags TEXT NOT NULL DEFAULT '';
    ALTER TABLE controller ADD COLUMN tags TEXT NOT NULL DEFAULT '';
    UPDATE base SET data = json_set(data, '$.tags', '')
        WHERE entity IN ('customer', 'controller') AND json_type(data, '$.tags') IS NULL;
    ALTER TABLE outbox ADD COLUMN campaign_id TEXT;
    CREATE INDEX outbox_campaign ON outbox(campaign_id) WHERE campaign_id IS NOT NULL;
    CREATE TABLE campaign (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL,            -- rain_delay | seasonal | suspend | resume | template | …
        params TEXT NOT NULL,          -- JSON: what the change sets
        summary TEXT NOT NULL,         -- the words the person read in the dry run
        canary INTEGER NOT NULL DEFAULT 0,   -- how many records go first (0: no canary)
        state TEXT NOT NULL            -- canary | applied | stopped | discarded
    );
    CREATE TABLE campaign_item (
        campaign_id TEXT NOT NULL REFERENCES campaign(id) ON DELETE CASCADE,
        entity TEXT NOT NULL,          -- config | controller | customer
        record_id TEXT NOT NULL,
        position INTEGER NOT NULL,     -- the canary is the first `canary` positions
        state TEXT NOT NULL,           -- waiting | queued | in_cloud | confirmed | failed
        entry_id TEXT,                 -- its outbox row, once applied here
        revision INTEGER,              -- the revision the cloud gave it (the device confirms it)
        message TEXT,
        PRIMARY KEY (campaign_id, entity, record_id)
    );
    CREATE INDEX campaign_item_state ON campaign_item(campaign_id, state);
    """,
    # 7 (issue 16): a canary's time limit — how long its devices have to confirm it once it is
    # all in the cloud (NULL: no canary), and since when the clock runs (NULL: not yet).
    """
    ALTER TABLE campaign ADD COLUMN canary_limit_s INTEGER;
    ALTER TABLE campaign ADD COLUMN canary_since TEXT;
    """,
    # 8 (issue 17): what is read before the first paint, at 100,000 controllers: the header's
    # count of offline controllers (a scan of the table, 11 ms) and the first customers by
    # name (a sort of 20,000, 3 ms) each read a part of an index instead.
    """
    CREATE INDEX controller_state ON controller(state);
    CREATE INDEX customer_name ON customer(name COLLATE NOCASE, id);
    """,
    # 9 (session 9): the first customers in the fleet's own order, natural ("Bulk 2" before
    # "Bulk 10"; SQLite's NOCASE put the first screenful in another order than the whole
    # fleet read a moment later), from an index of a plain column (kept by triggers here,
    # by the store since 10). natural_sort (fieldtech.domain.text.natural_sort_text) is
    # registered by every connection the Store opens, for this migration's UPDATE.
    """
    ALTER TABLE customer ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
    UPDATE customer SET sort_name = natural_sort(name);
    DROP INDEX customer_name;
    CREATE INDEX customer_sort_name ON customer(sort_name, id);
    CREATE TRIGGER customer_sort_name_made AFTER INSERT ON customer
    WHEN NEW.sort_name IS NOT natural_sort(NEW.name) BEGIN
        UPDATE customer SET sort_name = natural_sort(NEW.name) WHERE id = NEW.id;
    END;
    CREATE TRIGGER customer_sort_name_renamed AFTER UPDATE OF name, sort_name ON customer
    WHEN NEW.sort_name IS NOT natural_sort(NEW.name) BEGIN
        UPDATE customer SET sort_name = natural_sort(NEW.name) WHERE id = NEW.id;
    END;
    """,
    # 10 (session 9): the store writes sort_name itself with every customer; triggers calling
    # natural_sort made every customer write fail in a process that does not register it (an
    # older fieldtech still running on the file, another program).
    """
    DROP TRIGGER IF EXISTS customer_sort_name_made;
    DROP TRIGGER IF EXISTS customer_sort_name_renamed;
    """,
]


def register_functions(conn: sqlite3.Connection) -> None:
    """The functions the migrations call (9's UPDATE: natural_sort), before they run."""
    conn.create_function("natural_sort", 1, natural_sort_text, deterministic=True)


def migrate(conn: sqlite3.Connection) -> int:
    """Run the migrations this database has not seen; returns the schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"This data was written by a newer fieldtech (schema {version}); please upgrade."
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        try:
            with conn:  # one transaction per migration, together with its version bump
                conn.executescript(
                    "BEGIN;" + MIGRATIONS[number - 1] + f";PRAGMA user_version={number};COMMIT;"
                )
        except sqlite3.OperationalError:
            if conn.in_transaction:
                conn.rollback()
            # Another process (the app and a cron `fieldtech sync`, upgraded together) may
            # have run this migration since we read the version: then there is nothing to do.
            if conn.execute("PRAGMA user_version").fetchone()[0] < number:
                raise
    return len(MIGRATIONS)

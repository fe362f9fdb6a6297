"""The local copy: SQLite (WAL) with the records, the outbox of pending edits and sync cursors."""

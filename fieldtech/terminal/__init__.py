"""The terminal side of the TUI: what is written to it (only what changed) and read from it."""

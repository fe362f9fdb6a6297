"""Core services (no textual): edits, the fleet and its search, config files, settings."""

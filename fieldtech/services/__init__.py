"""Core services (no textual): the edit service, the fleet and its search, config files, settings."""

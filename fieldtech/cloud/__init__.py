"""The cloud client: httpx API client, the sync engine and credentials (keyring)."""

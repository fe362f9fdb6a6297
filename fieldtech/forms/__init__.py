"""What each form asks and how typed text becomes a validated record (no textual, no I/O)."""

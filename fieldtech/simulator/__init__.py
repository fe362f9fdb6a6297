"""Virtual controllers for demos, training and tests (mDNS + HTTP + pty serial, OpenSprinkler)."""

"""The engine: runs a parsed runbook against the registered actions, journaling every step."""

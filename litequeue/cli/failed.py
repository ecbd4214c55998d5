"""Commands: failed (see the README)."""

COMMANDS: list = []

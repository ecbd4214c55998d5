"""Commands: multi (see the README)."""

COMMANDS: list = []

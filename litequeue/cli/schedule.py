"""Commands: schedule (see the README)."""

COMMANDS: list = []

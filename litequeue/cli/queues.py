"""Commands: queues (see the README)."""

COMMANDS: list = []

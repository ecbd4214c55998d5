"""The worker: the main process loop, the prefork pool and what runs in its children (the only package that forks)."""

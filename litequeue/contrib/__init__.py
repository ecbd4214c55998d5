"""Integrations with other frameworks, one package each; they use litequeue's public API only."""

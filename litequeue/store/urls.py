"""Store URLs: which database a URL names, and how to print one safely."""

from __future__ import annotations


def describe_url(url: str) -> str:
    """The part of a store URL that is safe to print (no password)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def is_postgres_url(url: str) -> bool:
    """``postgresql://``, ``postgres://``, or either with ``+driver`` (psycopg, psycopg2)."""
    return "://" in url and url.split("://", 1)[0].split("+", 1)[0] in ("postgres", "postgresql")

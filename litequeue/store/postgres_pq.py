"""A LISTEN connection on psycopg 3, with the asynchronous interface the worker's listener uses
(psycopg2's: ``poll()`` driving a connect or a query, ``notifies`` and ``notices`` lists).

psycopg 3's own connections connect and wait in blocking calls (or in asyncio), so the listener
talks to libpq directly through psycopg's ``pq`` layer: ``connect_start``/``connect_poll`` to
connect without blocking, ``send_query`` for the LISTEN, ``consume_input`` and ``notifies`` to
hear notifications, all on a socket the worker's own selector waits on.
"""

from __future__ import annotations

from typing import Any

# psycopg2's poll() answers, which the listener reads.
POLL_OK, POLL_READ, POLL_WRITE = 0, 1, 2


class Pq3Connection:
    """One libpq connection for LISTEN. ``connect(params, async_)``: the first connection
    blocks (a wrong URL fails at once); replacements connect as ``poll()`` drives them."""

    def __init__(self, params: dict, async_: bool) -> None:
        import psycopg
        from psycopg import pq
        from psycopg.conninfo import make_conninfo

        self._e, self._pq = psycopg, pq
        conninfo = make_conninfo(**{k: v for k, v in params.items() if v is not None}).encode()
        self.notifies: list[Any] = []
        self.notices: list[str] = []
        self.autocommit = True  # libpq runs each statement in its own transaction anyway
        self._connecting = self._async = async_
        self._querying = False
        if async_:
            self.pgconn = pq.PGconn.connect_start(conninfo)
        else:
            self.pgconn = pq.PGconn.connect(conninfo)
            if self.pgconn.status != pq.ConnStatus.OK:
                message = self._error()
                self.pgconn.finish()
                raise psycopg.OperationalError(message)
        self.pgconn.notice_handler = self._notice

    # -- what the listener calls --------------------------------------------------------------

    def fileno(self) -> int:
        return int(self.pgconn.socket)

    def cursor(self) -> Pq3Connection:
        return self

    def __enter__(self) -> Pq3Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def execute(self, sql: str) -> None:
        """Blocking on a connection opened blocking; otherwise sent, and driven by ``poll()``."""
        if not self._async:
            result = self.pgconn.exec_(sql.encode())
            if result.status != self._pq.ExecStatus.COMMAND_OK:
                raise self._e.OperationalError(self._error(result))
            self.pgconn.nonblocking = 1
            return
        self.pgconn.send_query(sql.encode())
        self._querying = True

    def poll(self) -> int:
        """Drive the connection on; POLL_OK when idle (connected, the query done)."""
        pq = self._pq
        if self._connecting:
            status = self.pgconn.connect_poll()
            if status == pq.PollingStatus.OK:
                self._connecting = False
                self.pgconn.nonblocking = 1
                return POLL_OK
            if status == pq.PollingStatus.READING:
                return POLL_READ
            if status == pq.PollingStatus.WRITING:
                return POLL_WRITE
            raise self._e.OperationalError(self._error())
        if self._querying and self.pgconn.flush() != 0:
            return POLL_WRITE
        self.pgconn.consume_input()  # raises OperationalError when the server has gone
        while self._querying and not self.pgconn.is_busy():
            result = self.pgconn.get_result()
            if result is None:
                self._querying = False
            elif result.status == pq.ExecStatus.FATAL_ERROR:
                raise self._e.OperationalError(self._error(result))
        while (notify := self.pgconn.notifies()) is not None:
            self.notifies.append(notify)
        if self.pgconn.status == pq.ConnStatus.BAD:
            raise self._e.OperationalError(self._error())
        return POLL_READ if self._querying else POLL_OK

    def close(self) -> None:
        self.pgconn.finish()

    @property
    def closed(self) -> bool:
        return bool(self.pgconn.status == self._pq.ConnStatus.BAD)

    # -- helpers ------------------------------------------------------------------------------

    def _notice(self, result: Any) -> None:
        fields = self._pq.DiagnosticField
        severity = (result.error_field(fields.SEVERITY) or b"").decode(errors="replace")
        message = (result.error_field(fields.MESSAGE_PRIMARY) or b"").decode(errors="replace")
        self.notices.append(f"{severity}:  {message}")

    def _error(self, result: Any = None) -> str:
        raw = result.error_message if result is not None else self.pgconn.error_message
        return raw.decode(errors="replace").strip() or "the connection failed"

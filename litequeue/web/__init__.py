"""``litequeue dashboard``: a web page to watch and steer a store, the HTTP API behind it (see
``openapi.json``) and Prometheus ``/metrics``. Needs the ``web`` extra (``pip install
'litequeue-jobs[web]'``, for prometheus-client). It reads through the public monitoring functions and
the store's admin operations only, so what it shows and what the command line prints agree.
"""

from __future__ import annotations

from .server import Access, Dashboard, serve

__all__ = ["Access", "Dashboard", "serve"]

"""Workflows (Celery's canvas): signatures, chain, group, chord, and their results.

A workflow is data: signatures are dicts, and what follows a job (a chain's next step, links,
a chord's join) is stored with the job and written by the transaction that records its outcome.
"""

from .plan import send_canvas
from .results import GroupResult, ResultSet, WorkflowResult
from .signature import Signature, maybe_signature, signature, subtask
from .workflows import chain, chord, chunks, group, xmap, xstarmap

__all__ = ["Signature", "signature", "subtask", "maybe_signature", "chain", "group", "chord", "chunks",
           "xmap", "xstarmap", "GroupResult", "ResultSet", "WorkflowResult", "send_canvas"]

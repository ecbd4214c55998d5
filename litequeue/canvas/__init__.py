"""Workflows (Celery's canvas): signatures, and what runs after a job, stored with the job."""

from .signature import Signature, maybe_signature, signature, subtask

__all__ = ["Signature", "signature", "subtask", "maybe_signature"]

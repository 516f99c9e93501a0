"""The one root for programmer errors raised by the domain.

Business rejections are never raised: they are returned as values carrying a
reason code (see `reasons.py`).
"""


class DomainError(Exception):
    """A bug or a broken invariant inside the engine, never bad input."""


class FloatRefusedError(DomainError, TypeError):
    """Money or a quantity was given as a binary float; floats cannot hold 49.99 exactly."""

"""Candidates: the pool of instruction texts, the ``Entry`` record (a candidate in a format, as a trial
with its dev scores), the making of entries, and the tables ranked from them."""

__all__ = ["entries", "entry", "pool", "tables"]

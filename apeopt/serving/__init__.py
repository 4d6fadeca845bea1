"""`apeopt serve`: a local model behind an OpenAI-compatible HTTP API (``server`` runs it, ``api``
answers requests, ``sse`` streams answers, ``logprobs`` writes OpenAI's log-probability shapes)."""

from apeopt.serving.server import ModelServer

__all__ = ["ModelServer"]

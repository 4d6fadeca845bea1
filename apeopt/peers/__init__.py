"""Peers run side by side with apeopt on one backend: DSPy COPRO and MIPROv2 through a custom DSPy engine.

Importing ``apeopt.peers`` is cheap; ``dspy`` loads when a submodule that needs it is imported:
``dspy_lm`` (engine and counting adapter), ``program`` (the shared program and metric), ``copro``,
``mipro``, and ``apeopt_run`` (apeopt's own row of the table).
"""

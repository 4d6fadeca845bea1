"""Implementations of the CLI commands (imported lazily by apeopt.cli)."""

"""The CLI commands. Each ``*_cmd`` module holds one command's options and help: apeopt.cli imports them all
at start, so they import only typer and light apeopt modules. The work is imported inside a command when it
runs: the module named for the command (``eval``, ``optimize``, ...), :mod:`apeopt.services` and the rest."""

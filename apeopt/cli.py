"""The `apeopt` command line: the Typer app, its commands (each defined in ``apeopt/commands/*_cmd.py``,
modules that import only typer and light apeopt modules; torch and transformers load inside a command when
it runs), and how errors end the process."""

from __future__ import annotations

import sys

import typer

from apeopt.commands.batch_cmd import batch_cmd
from apeopt.commands.compare_cmd import compare_cmd
from apeopt.commands.eval_cmd import eval_cmd
from apeopt.commands.export_cmd import export_cmd
from apeopt.commands.optimize_cmd import optimize_cmd
from apeopt.commands.report_cmd import report_cmd
from apeopt.commands.serve_cmd import serve_cmd
from apeopt.commands.tasks_cmd import tasks_cmd
from apeopt.errors import UserError

app = typer.Typer(
    name="apeopt",
    help="Automated prompt engineering: propose instructions, score them on held-out data, resample the best.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _entry() -> None:
    """Runs once before any command (not for ``apeopt --help``): the process-wide switches."""
    from apeopt.process import configure_process

    configure_process()


# The commands, in the order ``apeopt --help`` lists them.
app.command("tasks")(tasks_cmd)
app.command("eval")(eval_cmd)
app.command("optimize")(optimize_cmd)
app.command("export")(export_cmd)
app.command("report")(report_cmd)
app.command("serve")(serve_cmd)
app.command("compare")(compare_cmd)
app.command("batch")(batch_cmd)


def main() -> None:
    """Entry point: user mistakes become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)  # Ctrl-C inside a command comes back as exit code 130
        if code == 130:
            typer.echo("interrupted", err=True)
            sys.exit(130)
    except UserError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except Exception as exc:
        _usage_error(exc)


def _usage_error(exc: Exception) -> None:
    """Click/typer usage errors (bad option, bad value) as one line and exit 2; anything else is a bug."""
    if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
        raise exc
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # Typer has printed the help already
        sys.exit(0)
    where = f"{ctx.command_path}: " if ctx is not None else ""
    typer.echo(f"error: {where}{' '.join(str(exc.format_message()).split())}", err=True)
    sys.exit(2 if exc.exit_code else 0)


if __name__ == "__main__":
    main()

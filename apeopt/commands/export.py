"""`apeopt export`: a run's best prompt in another tool's format, with a warning wherever the file
is not exactly what was scored (an interrupted run's partial prompt; a chat rendering)."""

from __future__ import annotations

import sys
from pathlib import Path

from apeopt.errors import UserError


def run_export(run: str, fmt: str, output: Path | None, fixed: bool = False) -> str:
    """The exported text (written to ``output`` when given); warnings go to stderr, one line each."""
    from apeopt.atomic_files import atomic_write_text
    from apeopt.runs import BEST_FIXED_PROMPT, BEST_PROMPT, PARTIAL_PROMPT, RunStore
    from apeopt.prompts.export import export_prompt, rendering_note
    from apeopt.prompts.file import load_prompt_file

    if output is not None:
        from apeopt.services.preflight import check_output_file

        check_output_file(output, "--output")
    store = RunStore.resolve(run)
    name = BEST_FIXED_PROMPT if fixed else BEST_PROMPT
    if not store.path(BEST_PROMPT).is_file():
        if not store.path(PARTIAL_PROMPT).is_file():
            raise UserError(
                f"run {str(run)!r} has no {BEST_PROMPT}: it has not finished, and has no {PARTIAL_PROMPT} "
                "(nothing was fully scored on dev before it stopped)"
            )
        if fixed:
            raise UserError(
                f"run {str(run)!r} was interrupted: only its {PARTIAL_PROMPT} can be exported, without --fixed"
            )
        name = PARTIAL_PROMPT
    elif fixed and not store.path(name).is_file():
        raise UserError(f"run {str(run)!r} has no {name}: its winner already uses fixed demos; export without --fixed")
    pf = load_prompt_file(store.path(name))
    text = export_prompt(pf, fmt)
    notes = [pf.partial_note] if pf.partial else []
    notes += [] if pf.human_instruction else [pf.NO_HUMAN_NOTE]
    note = rendering_note(pf, fmt, str(store.path(name)))
    notes += [note] if note else []
    for line in notes:
        print(f"warning: {line}", file=sys.stderr)
    if output is not None:
        atomic_write_text(output, text)
        print(f"wrote {output}", file=sys.stderr)
    return text

"""Text cleaning of proposals: the first line of a completion, unless it is no instruction."""

from __future__ import annotations

import re

# Text that is no instruction: the writer speaking of themselves, a question, a header ("Refinements
# of this instruction:"), the meta-prompt echoed or named ("Instruction A and B combine…", "The
# instruction should include…"), or a template placeholder ("Your response here.").
_NOT_INSTRUCTION = re.compile(
    r"\b(?:i|i'm|i've|i'll|i'd|me|my|mine|myself)\b|\?\s*$|:\s*$|one-sentence instruction"
    r"|the (?:\w+ )?instruction (?:was|is|should|must|will)\b|\binstructions? [ab]\b"
    r"|^\W*your (?:\w+ )?(?:response|answer|instruction|text|reply) (?:goes )?here\W*$"
    r"|input-output pairs|\bthe friend\b",
    re.I,
)
_PREFIX = re.compile(
    r"^(?:the\s+)?(?:(?:new|improved|revised|updated|combined|merged)\s+)?(?:instruction|text|answer|output)\s*(?:was|is)?\s*[:\-]\s*",
    re.I,
)


def clean_instruction(text: str, capitalize: bool = True) -> str | None:
    """First non-empty line, without quotes or an "Instruction:" label; None when it is no instruction."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _PREFIX.sub("", line).strip().strip("\"'`*").strip()
    line = " ".join(line.split())
    words = line.split()
    if len(words) < 3 or len(words) > 60 or "Input:" in line or "Output:" in line or _NOT_INSTRUCTION.search(line):
        return None
    if capitalize:
        line = line[0].upper() + line[1:]
    if line[-1] not in ".!?":
        line += "."
    return line

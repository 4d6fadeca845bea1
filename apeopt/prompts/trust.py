"""A prompt file is data, not configuration of where to send things.

``apeopt eval --prompt-file`` scores on ``--model``. Without it, the file's model is used only when it
names weights on this machine (a built-in alias, an existing ``hf:`` folder or ``gguf:`` file); a remote
endpoint (``openai:...``, with whatever ``key_env`` it names) or a hub id to download is never contacted
because a file says so: the command scores on the local default model and prints one notice naming the
file's model and the flag that opts in (``--model SPEC``).
"""

from __future__ import annotations

from apeopt.models.spec import DEFAULT_SPEC, is_local_spec
from apeopt.secrets import mask_url


def model_for_prompt_file(file_model: str, where: str, explicit: str | None) -> tuple[str, str | None]:
    """The model to score a prompt file on, and a notice to print (or None)."""
    if explicit:
        return explicit, None
    if is_local_spec(file_model):
        return file_model, None
    shown = mask_url(str(file_model))[:300]
    kind = "the remote model" if shown.startswith("openai:") else "the model"
    return DEFAULT_SPEC, (
        f"prompt file {where!r} names {kind} {shown!r}, which a file cannot choose: scoring on "
        f"the local default model {DEFAULT_SPEC}; pass --model {shown!r} to score on it"
    )

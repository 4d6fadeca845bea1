"""Export a best-prompt file to the formats other tools read.

A new format is one function plus one registry line::

    @_format("name", suffix=".ext")
    def _name(pf: PromptFile) -> str: ...

Every format except ``json`` and ``dspy`` carries an input placeholder exactly once, where the
input goes: ``{input}`` (txt, openai) or ``{{input}}`` (prompty, a Jinja2 template).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Any, Callable

import yaml

from apeopt.models.base import Message
from apeopt.prompts.file import PromptFile
from apeopt.prompts.prompt import PromptConfig
from apeopt.registry import Registry

PLACEHOLDER = "{input}"
PROMPTY_PLACEHOLDER = "{{input}}"
_JINJA_OPEN = re.compile(r"\{(?=[{%#])")


@dataclass(frozen=True)
class ExportFormat:
    """How one format is written: ``render`` gives the file text, ``suffix`` a fitting file ending."""

    render: Callable[[PromptFile], str]
    suffix: str
    description: str = ""
    chat: bool = False  # writes the prompt as chat messages, whatever template it was scored in


EXPORTERS: Registry[ExportFormat] = Registry("export format")


# Formats that can hold demos chosen per input (a demo pool and the retriever's settings).
PER_INPUT_DEMOS = ("json",)


def export_prompt(pf: PromptFile, fmt: str) -> str:
    """The text of ``pf`` in format ``fmt``; an unknown ``fmt`` is a UserError with a did-you-mean.

    A prompt whose demos are retrieved per input can only be written where the pool and the
    retriever travel with it (``json``); any other format would hand over a prompt that scores
    differently, so it is refused."""
    exporter = EXPORTERS.get(fmt)
    if pf.prompt.retrieves and fmt not in PER_INPUT_DEMOS:
        from apeopt.errors import UserError

        raise UserError(
            f"format {fmt!r} cannot express demos retrieved per input (this prompt picks its {pf.prompt.demo_count} "
            f"demos from a pool of {len(pf.prompt.demo_pool)} for each input); export --format json, which "
            "`apeopt eval --prompt-file` scores exactly, or `apeopt export RUN --fixed` for the run's best "
            "prompt with fixed demos"
        )
    return exporter.render(pf)


def rendering_note(pf: PromptFile, fmt: str, source: str = "best_prompt.json") -> str | None:
    """A one-line warning when format ``fmt`` hands over a prompt other than the one scored: a
    completion-template prompt written as chat messages. None when the file is what was scored."""
    if not EXPORTERS.get(fmt).chat or pf.prompt.template == "chat":
        return None
    return (
        f"the {fmt} format writes this completion-template prompt as chat messages (instruction as system, "
        "demos as user/assistant turns); that rendering was not scored: measure it with "
        f"`apeopt eval --prompt-file {source} --as chat`, or ship the json or txt export"
    )


def export_suffix(fmt: str) -> str:
    """The file ending for ``fmt`` (e.g. ``.prompty``; dspy needs ``.json`` to load)."""
    return EXPORTERS.get(fmt).suffix


def _format(
    name: str, suffix: str, chat: bool = False
) -> Callable[[Callable[[PromptFile], str]], Callable[[PromptFile], str]]:
    def deco(fn: Callable[[PromptFile], str]) -> Callable[[PromptFile], str]:
        doc = (fn.__doc__ or "").strip().splitlines()
        EXPORTERS.add(name, ExportFormat(fn, suffix, doc[0] if doc else "", chat))
        return fn

    return deco


# ----- shared pieces ----------------------------------------------------------------------
def chat_rendering(p: PromptConfig) -> PromptConfig:
    """The prompt in the chat template, as the chat formats (openai, prompty) write it: chat
    templates are unchanged; completion templates map to system = instruction, each demo a
    user/assistant pair, and a last user message with the input (and the CoT trigger).
    Completion rendering ignores ``system``, so this does too. ``apeopt eval --as chat`` scores it."""
    return p if p.template == "chat" else replace(p, template="chat", system="")


def chat_messages(p: PromptConfig, x: str = PLACEHOLDER) -> tuple[Message, ...]:
    """The prompt as chat messages (:func:`chat_rendering`)."""
    messages = chat_rendering(p).render(x)
    assert isinstance(messages, tuple)
    return messages


def system_text(p: PromptConfig) -> str:
    """The instruction text as a system prompt sees it (chat templates prepend ``system``)."""
    if p.template == "chat":
        return "\n\n".join(s for s in (p.system.strip(), p.instruction.strip()) if s)
    return p.instruction.strip()


def request_params(p: PromptConfig) -> dict[str, Any]:
    """Sampling parameters for one request that does what apeopt does with the prompt.

    apeopt answers CoT prompts in two calls (reasoning, then the answer after a trigger); a single
    exported request gets room for both and the stop strings of the reasoning stage."""
    params: dict[str, Any] = {"temperature": p.vote_temperature if p.votes > 1 else 0}
    if p.cot:
        params["max_tokens"] = p.cot_max_tokens + p.max_tokens
        stop = ["\n\n", f"\n{p.input_prefix}"]
    else:
        params["max_tokens"] = p.max_tokens
        stop = list(p.stop)
    if stop:
        params["stop"] = stop
    if p.votes > 1:
        params["n"] = p.votes
    return params


def _dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _description(pf: PromptFile) -> str:
    return f"apeopt best prompt for task {pf.task!r} on model {pf.model!r}"


# ----- formats ----------------------------------------------------------------------------
@_format("json", suffix=".json")
def _json(pf: PromptFile) -> str:
    """The canonical apeopt prompt file (what `apeopt eval --prompt-file` reads)."""
    return json.dumps(pf.to_dict(), indent=2) + "\n"  # byte for byte what PromptFile.save writes


@_format("txt", suffix=".txt")
def _txt(pf: PromptFile) -> str:
    """The prompt text with {input} where the input goes, to paste into a playground.

    Exactly the prompt, with no metadata and no trailing newline (a completion prompt ends at the
    answer prefix, and a newline after it would change what the model continues)."""
    p = pf.prompt
    if p.template == "completion":
        text = p.render(PLACEHOLDER)
        assert isinstance(text, str)
        return text
    messages = p.render(PLACEHOLDER)
    assert not isinstance(messages, str)
    return "\n\n".join(f"### {role}\n{content}" for role, content in messages)


@_format("openai", suffix=".openai.json", chat=True)
def _openai(pf: PromptFile) -> str:
    """An OpenAI-style chat completions request body with {input} in the last user message.

    A completion-template prompt gets ``metadata`` (a request field the API accepts) saying the
    messages are a rendering apeopt did not score."""
    body: dict[str, Any] = {
        "model": pf.model,
        "messages": [{"role": r, "content": c} for r, c in chat_messages(pf.prompt)],
    }
    body.update(request_params(pf.prompt))
    if rendering_note(pf, "openai"):
        body["metadata"] = {
            "apeopt_scored_template": pf.prompt.template,
            "apeopt_warning": "chat rendering of a completion prompt; not scored by apeopt",
        }
    return _dump_json(body)


@_format("prompty", suffix=".prompty", chat=True)
def _prompty(pf: PromptFile) -> str:
    """A Prompty file (YAML front matter, then role-marked Jinja2 messages with {{input}}).

    A completion-template prompt says in its description that these messages were not scored."""
    note = rendering_note(pf, "prompty")
    front = {
        "name": pf.task,
        "description": _description(pf) + (f". WARNING: {note}" if note else ""),
        "model": {
            "api": "chat",
            "configuration": {"type": "openai", "name": pf.model},
            "parameters": request_params(pf.prompt),
        },
        "inputs": {"input": {"type": "string"}},
        "template": "jinja2",
    }
    if pf.prompt.demos:
        front["sample"] = {"input": pf.prompt.demos[0].input}
    head = yaml.dump(front, Dumper=_QuotedNewlineDumper, sort_keys=False, allow_unicode=True, width=10**6)
    marker = "\x00INPUT\x00"
    blocks = []
    for role, content in chat_messages(pf.prompt, marker):
        blocks.append(f"{role}:\n{_jinja_literal(content, marker)}")
    return f"---\n{head}---\n" + "\n\n".join(blocks) + "\n"


class _QuotedNewlineDumper(yaml.SafeDumper):
    """Writes strings with line breaks double-quoted (``"\\n"``) instead of as folded blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if "\n" in value or "\r" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_QuotedNewlineDumper.add_representer(str, _represent_str)


def _jinja_literal(text: str, marker: str) -> str:
    """``text`` as Jinja2 source that renders to itself, with ``marker`` -> {{input}}: each ``{``
    that would open a Jinja2 tag (``{{``, ``{%``, ``{#``) is written as ``{{ '{' }}``."""
    return PROMPTY_PLACEHOLDER.join(_JINJA_OPEN.sub("{{ '{' }}", piece) for piece in text.split(marker))


@_format("dspy", suffix=".dspy.json")
def _dspy(pf: PromptFile) -> str:
    """A DSPy program state for dspy.Predict("input -> output").load(path) (path must end in .json)."""
    p = pf.prompt
    state = {
        "traces": [],
        "train": [],
        "demos": [{"input": d.input, "output": d.output} for d in p.demos],
        "signature": {
            "instructions": system_text(p),
            "fields": [
                {"prefix": p.input_prefix, "description": "${input}"},
                {"prefix": p.answer_prefix, "description": "${output}"},
            ],
        },
        "lm": None,
        "metadata": {"dependency_versions": _dspy_dependency_versions()},
    }
    return _dump_json(state)


def _dspy_dependency_versions() -> dict[str, str]:
    """What ``dspy.BaseModule.save`` records, read without importing dspy (which is slow)."""
    versions = {"python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    for name, parts in (("dspy", None), ("cloudpickle", 2)):
        try:
            v = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        versions[name] = ".".join(v.split(".")[:parts]) if parts else v
    return versions

"""DSPy on apeopt's backend: a DSPy 3.4 custom engine over an LMBackend, and a ChatAdapter that counts format failures.

DSPy 3.4.1 takes a local model as ``dspy.LM("<provider>/<name>", engine=obj)`` where ``obj.complete(Request)
-> Response`` (dspy/clients/lm.py ``_check_engines``; dspy/clients/engines/base.py). DSPy still owns
candidate fan-out: a call with ``n=k`` reaches the engine as ``k`` identical requests
(dspy/clients/execution.py ``execute``), so sampled requests get a fresh seed per call here.

Every DSPy call becomes one :class:`GenerateRequest` (chat messages as ``(role, content)`` tuples) on the
given backend, so DSPy shares apeopt's loaded model, LM cache and call counter (pass a
:class:`~apeopt.models.metered.MeteredBackend`). DSPy's own response cache is off (``cache=False``) so
every call is counted; concurrent calls from DSPy's thread pool are merged into batched ``generate``
calls by a :class:`~apeopt.models.batcher.MicroBatcher`.

Nothing here touches ``dspy.settings``: use ``with bridge.context(): ...`` (a ``dspy.context``).
"""

from __future__ import annotations

import threading
import zlib
from collections import Counter
from typing import Any, Iterator

import dspy
from dspy.adapters.chat_adapter import ChatAdapter, field_header_pattern
from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events
from dspy.utils.exceptions import AdapterParseError

from apeopt.models.base import GenerateRequest, LMBackend
from apeopt.models.batcher import MicroBatcher

# Text after this marker is ignored by ChatAdapter.parse, so stopping there loses nothing.
COMPLETED_MARK = "[[ ## completed ## ]]"


class BackendEngine:
    """A DSPy custom engine: ``complete(Request) -> Response`` computed by an apeopt :class:`LMBackend`.

    ``max_tokens`` caps every request (DSPy's default of 4000 would be ruinous on a CPU); the
    request's own ``max_tokens`` applies when smaller. ``batch=True`` merges concurrent calls.
    """

    def __init__(
        self,
        backend: LMBackend,
        max_tokens: int = 256,
        seed: int = 0,
        batch: bool = True,
        stop: tuple[str, ...] = (COMPLETED_MARK,),
        model: str = "apeopt",
    ) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        self.backend, self.max_tokens, self.seed, self.stop, self.model = backend, max_tokens, seed, stop, model
        self._lock = threading.Lock()
        self._sampled = 0  # sampled requests so far: each gets its own seed
        self._in_flight = 0
        self.requests = 0
        self.truncated = 0
        self._batcher = (
            MicroBatcher(backend, max_batch=32, wait_s=0.01, in_flight=lambda: self._in_flight) if batch else None
        )

    def to_generate_request(self, request: Request) -> GenerateRequest:
        """The apeopt request for one DSPy request: system + messages as (role, content) chat turns."""
        turns: list[tuple[str, str]] = []
        if request.system is not None:
            system = (
                request.system
                if isinstance(request.system, str)
                else "".join(getattr(p, "text", "") for p in request.system)
            )
            turns.append(("system", system))
        for m in request.messages:
            role = "user" if m.role in ("developer", "tool") else m.role
            turns.append((role, m.text or ""))
        cfg = request.config
        temperature = float(cfg.temperature or 0.0)
        seed = 0
        if temperature > 0:
            with self._lock:
                self._sampled += 1
                k = self._sampled
            seed = (zlib.crc32(repr(turns).encode()) + 1_000_003 * (self.seed + 1) + k) & 0x7FFFFFFF
        max_tokens = min(self.max_tokens, cfg.max_tokens or self.max_tokens)
        stop = tuple(dict.fromkeys((*cfg.stop, *self.stop)))
        return GenerateRequest(tuple(turns), max_tokens=max_tokens, temperature=temperature, n=1, stop=stop, seed=seed)

    def complete(self, request: Request) -> Response:
        req = self.to_generate_request(request)
        with self._lock:
            self._in_flight += 1
            self.requests += 1
        try:
            out = self._batcher.submit("generate", [req])[0] if self._batcher else self.backend.generate([req])[0]
        finally:
            with self._lock:
                self._in_flight -= 1
        length = out.completion_tokens >= req.max_tokens
        if length:
            with self._lock:
                self.truncated += 1
        return Response(
            id=None,
            model=self.model,
            message=Message.assistant([TextPart(out.text)]),
            finish_reason="length" if length else "stop",
            usage=Usage(input_tokens=out.prompt_tokens, output_tokens=out.completion_tokens),
        )

    def stream(self, request: Request) -> Iterator[Any]:
        return iter(response_to_events(self.complete(request)))

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()
            self._batcher = None


class CountingChatAdapter(ChatAdapter):
    """DSPy's ChatAdapter, except a completion without every ``[[ ## field ## ]]`` section is not an error.

    Small models often answer without DSPy's field markers. The stock adapter raises (after a JSON
    retry), which makes ``Evaluate`` give up after ``max_errors`` and COPRO/MIPROv2 crash on a bad
    proposal. Here each such completion is counted in ``failures`` (by signature) and salvaged: found
    sections are kept, the first missing output field gets the text with markers removed, other
    missing fields get "". :meth:`take_failure` tells the calling thread whether its last call failed.
    """

    def __init__(self) -> None:
        super().__init__(use_json_adapter_fallback=False)
        self.failures: Counter[str] = Counter()
        self.parses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()

    def _call_postprocess(
        self, processed_signature: Any, original_signature: Any, outputs: Any, lm: Any, lm_kwargs: Any
    ) -> Any:
        # An empty completion raises before parse() in the stock adapter; route it through parse.
        fixed = [({**o, "text": o.get("text") or " "} if isinstance(o, dict) else (o or " ")) for o in outputs]
        return super()._call_postprocess(processed_signature, original_signature, fixed, lm, lm_kwargs)

    def parse(self, signature: Any, completion: str) -> dict[str, Any]:
        name = signature.__name__
        failed = False
        try:
            fields = super().parse(signature, completion)
        except AdapterParseError:
            failed = True
            fields = salvage(signature, completion)
        with self._lock:
            self.parses[name] += 1
            if failed:
                self.failures[name] += 1
        self._local.failed = getattr(self._local, "failed", False) or failed
        return fields

    def take_failure(self) -> bool:
        """Whether a parse in this thread failed since the last call (and reset)."""
        failed = getattr(self._local, "failed", False)
        self._local.failed = False
        return failed


def salvage(signature: Any, completion: str) -> dict[str, Any]:
    """Best-effort fields from a completion that lacks some field markers."""
    found: dict[str, str] = {}
    current: str | None = None
    loose: list[str] = []
    for line in completion.splitlines():
        m = field_header_pattern.match(line.strip())
        if m:
            current = m.group(1)
            rest = line.strip()[m.end() :].strip()
            if current in signature.output_fields and current not in found:
                found[current] = rest
            continue
        if current in signature.output_fields and current is not None:
            found[current] = (found[current] + "\n" + line).strip()
        elif current is None:
            loose.append(line)
    text = field_header_pattern.sub("", "\n".join(loose)).strip() or field_header_pattern.sub("", completion).strip()
    out: dict[str, Any] = {}
    first = True
    for name in signature.output_fields:
        if name in found and found[name]:
            out[name] = found[name]
        else:
            out[name] = text if first else ""
            first = False
    return out


class DSPyBridge:
    """The DSPy LMs and adapter for one method run on apeopt backends.

    ``task_lm`` answers task inputs (greedy, ``task_max_tokens``) on ``backend``; ``prompt_lm`` is
    the proposer (its optimizer sets the temperature), on ``proposer`` when given (another model:
    a reflection / prompt model), else on ``backend``. Use as a context manager so the batcher
    threads stop.
    """

    def __init__(
        self,
        backend: LMBackend,
        task_max_tokens: int = 48,
        prompt_max_tokens: int = 192,
        seed: int = 0,
        batch: bool = True,
        name: str = "apeopt/local",
        proposer: LMBackend | None = None,
    ) -> None:
        width = max(task_max_tokens, prompt_max_tokens)
        self.engine = BackendEngine(backend, max_tokens=width, seed=seed, batch=batch, model=name)
        self.prompt_engine = (
            self.engine
            if proposer is None or proposer is backend
            else BackendEngine(proposer, max_tokens=width, seed=seed, batch=batch, model=name + "-proposer")
        )
        self.adapter = CountingChatAdapter()
        common: dict[str, Any] = {"cache": False, "num_retries": 0}
        self.task_lm = dspy.LM(name, temperature=0.0, max_tokens=task_max_tokens, engine=self.engine, **common)
        self.prompt_lm = dspy.LM(
            self.prompt_engine.model, temperature=1.0, max_tokens=prompt_max_tokens, engine=self.prompt_engine, **common
        )

    @property
    def truncated(self) -> int:
        """Responses cut at their token cap, task and proposer engines together."""
        return self.engine.truncated + (self.prompt_engine.truncated if self.prompt_engine is not self.engine else 0)

    def context(self) -> Any:
        """``dspy.context`` with the task LM and the counting adapter (thread-local, restored on exit)."""
        return dspy.context(lm=self.task_lm, adapter=self.adapter)

    def close(self) -> None:
        self.engine.close()
        if self.prompt_engine is not self.engine:
            self.prompt_engine.close()

    def __enter__(self) -> "DSPyBridge":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Log-probabilities of generated tokens, with the likeliest alternatives at each position: what
``apeopt serve`` returns as ``logprobs`` (OpenAI's ``logprobs=N`` on completions,
``logprobs=true, top_logprobs=N`` on chat).

Generation runs as usual (:meth:`HFBackend.generate`, which keeps each text's new token ids); the
prompt and the generated ids up to where the text was cut (a stop string; the end-of-text token
is not part of the text) are then scored teacher-forced, in one forward per length-sorted batch
with logits only at the generated positions. These are the model's own (untempered) log-probs of
the very tokens it produced; for greedy decoding the chosen token is the likeliest at each step.
Token texts join to the returned text: a character split over several tokens lands in the token
that completes it, and a stop string's tokens are cut where the text ends.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch

from apeopt.models.base import GenerateRequest, ScoredCompletion, TokenChoice, TokenLogprobs
from apeopt.models.hf_batching import budget_chunks
from apeopt.models.hf_access import HFAccess

_DECODE = {"skip_special_tokens": False, "clean_up_tokenization_spaces": False}


@torch.inference_mode()
def generate_with_logprobs(backend: HFAccess, requests: Sequence[GenerateRequest], top: int) -> list[ScoredCompletion]:

    done = backend.generate(requests)
    items: list[tuple[list[int], int]] = []
    texts: list[list[str]] = []  # the token texts of each scored continuation
    for req, c in zip(requests, done):
        prompt = backend.encode_prompt(req.prompt)
        for text, new in zip(c.texts, c.token_ids or [()] * len(c.texts)):
            kept, pieces = _cut(backend.tokenizer, [t for t in new if t not in backend.eos_ids], text)
            items.append((prompt + kept, len(kept)))
            texts.append(pieces)
    vocab = int(backend.model.get_output_embeddings().weight.shape[0])
    scored: list[TokenLogprobs] = [TokenLogprobs()] * len(items)
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    for chunk in budget_chunks(order, [m for _, m in items], backend.batch_size, vocab):
        for i, res in zip(chunk, _top_batch(backend, [items[i] for i in chunk], [texts[i] for i in chunk], top)):
            scored[i] = res
    backend.usage.add(calls=len(items), prompt_tokens=sum(len(ids) - m for ids, m in items))
    out, at = [], 0
    for c in done:
        out.append((c, tuple(scored[at : at + len(c.texts)])))
        at += len(c.texts)
    return out


def _cut(tokenizer: Any, ids: list[int], text: str) -> tuple[list[int], list[str]]:
    """The ids (and their texts) that make up ``text``: the generated ids up to the one that
    completes it, the last one's text trimmed where ``text`` was cut at a stop string."""
    pieces = token_pieces(tokenizer, ids)
    if not "".join(pieces).startswith(text):  # decoding differs (special tokens): keep them all
        return ids, pieces
    kept, size = 0, 0
    while size < len(text):
        size += len(pieces[kept])
        kept += 1
    out = pieces[:kept]
    if out and size > len(text):
        out[-1] = out[-1][: len(out[-1]) - (size - len(text))]
    return ids[:kept], out


def _top_batch(
    backend: HFAccess, items: list[tuple[list[int], int]], texts: list[list[str]], top: int
) -> list[TokenLogprobs]:
    keep = max(m for _, m in items)
    if keep == 0:
        return [TokenLogprobs() for _ in items]
    # position t predicts token t+1: without each row's last token, the last ``keep`` positions
    # (after left padding) predict every generated token
    input_ids, mask = backend.left_pad([ids[:-1] for ids, _ in items])
    logp = torch.log_softmax(backend.last_logits(input_ids, mask, keep).float(), dim=-1)
    values, indices = logp.topk(max(0, min(top, logp.shape[-1])), dim=-1)
    tok = backend.tokenizer
    out = []
    for row, ((ids, m), pieces) in enumerate(zip(items, texts)):
        if m == 0:
            out.append(TokenLogprobs())
            continue
        target = torch.tensor(ids[-m:], device=logp.device)
        picked = logp[row, keep - m :].gather(-1, target[:, None])[:, 0]
        alts = tuple(
            tuple(TokenChoice(tok.decode([j], **_DECODE), v) for j, v in zip(js, vs))
            for js, vs in zip(indices[row, keep - m :].tolist(), values[row, keep - m :].tolist())
        )
        out.append(TokenLogprobs(tuple(pieces), tuple(picked.tolist()), alts))
    return out


def token_pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """The text of each token such that the pieces join to the decoded ids: each token adds what
    its decoded prefix settles of the whole text, so a character split over several tokens lands
    in the token that completes it (the others get "")."""
    if not ids:
        return []
    whole = tokenizer.decode(ids, **_DECODE)
    prefixes = tokenizer.batch_decode([ids[:i] for i in range(1, len(ids))], **_DECODE)
    out, done = [], 0
    for prefix in prefixes:
        settled = max(done, len(os.path.commonprefix([prefix, whole])))
        out.append(whole[done:settled])
        done = settled
    out.append(whole[done:])
    return out

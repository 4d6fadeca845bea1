"""`apeopt serve` after a client drops a long streamed request: how long a 2-token request behind it
waits (tiny random Llama from the tests, CPU). Run from the repository root:

    python bench/serve_drop.py --label i22 [--out bench/results/serve_drop.json]

With ``PYTHONPATH=<another checkout>`` it measures that checkout's server instead (the label says which).
Each row: the 2048-token generation's own time (the cost a dropped client used to leave behind), and
the next request's latency right after the drop. Load (1-minute average) is recorded with each row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def measure(tokens: int, repeats: int) -> dict[str, object]:
    from conftest import build_tiny_model_dir

    from apeopt.models import load_backend
    from apeopt.serving import ModelServer

    tiny = Path(os.environ.get("APEOPT_TINY_DIR", "/tmp/apeopt-tiny-llama"))
    if not (tiny / "config.json").is_file():
        tiny.mkdir(parents=True, exist_ok=True)
        build_tiny_model_dir(tiny)
    srv = ModelServer(load_backend(f"hf:{tiny}", device="cpu"), name="tiny").start()
    full, after = [], []
    try:
        for i in range(repeats):
            t0 = time.monotonic()
            httpx.post(srv.url + "/completions", json={"prompt": f"Numbers {i}", "max_tokens": tokens, "temperature": 0},
                       timeout=600)
            full.append(time.monotonic() - t0)
            try:
                httpx.post(srv.url + "/completions", json={"prompt": f"Numbers {i} 1", "max_tokens": tokens,
                                                           "temperature": 0, "stream": True}, timeout=0.3)
            except httpx.TimeoutException:
                pass  # the client gives up after 0.3 s and closes its connection
            t0 = time.monotonic()
            httpx.post(srv.url + "/completions", json={"prompt": "hello", "max_tokens": 2}, timeout=600)
            after.append(time.monotonic() - t0)
    finally:
        srv.close()
    return {"tokens": tokens, "n": repeats, "full_generation_s": [round(x, 2) for x in full],
            "next_request_s": [round(x, 3) for x in after], "load_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/serve_drop.json"))
    args = ap.parse_args()
    import apeopt

    row = {"label": args.label, "apeopt": str(Path(apeopt.__file__).parent), **measure(args.tokens, args.repeats)}
    rows = json.loads(args.out.read_text()) if args.out.is_file() else []
    rows = [r for r in rows if r["label"] != args.label] + [row]
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| label | tokens | n | generation alone (s) | next 2-token request after the drop (s) | load |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['tokens']} | {r['n']} | {', '.join(map(str, r['full_generation_s']))} | "
                     f"{', '.join(map(str, r['next_request_s']))} | {r['load_1min']} |")
    args.out.with_suffix(".md").write_text("# apeopt serve: a request right after a dropped stream\n\n"
                                           "`python bench/serve_drop.py --label LABEL` (tiny random Llama, CPU); a row for another checkout: "
                                           "`PYTHONPATH=<checkout> python bench/serve_drop.py --label LABEL`. Each value is one "
                                           "repeat: a 2048-token request alone, then the same length streamed and dropped by its "
                                           "client after 0.3 s, then a 2-token request.\n\n"
                                           + "\n".join(lines) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()

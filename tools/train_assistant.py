"""Train the mastering assistant and write its weights into the package (``make train-assistant``).

    python tools/train_assistant.py [--audio data/assistant/audio] [--cache data/assistant/features]
                                    [--out src/zen/audio/weights] [--threads 1]

Reads the corpus fetched by ``tools/fetch_training_audio.py``, builds (or reuses) the cached
examples, runs the FFT-size study, and writes ``assistant.safetensors``, ``assistant.json`` and
``assistant-int8.onnx`` (+ its sidecar) into ``--out``. Prints one line per step and the
held-out errors at the end. Deterministic for a given corpus and seed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, default=REPO / "data" / "assistant" / "audio")
    parser.add_argument("--cache", type=Path, default=REPO / "data" / "assistant" / "features")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "zen" / "audio" / "weights")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (BLAS and torch)")
    args = parser.parse_args(argv)
    # Before numpy loads: BLAS threads spin against each other on a small busy machine.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(args.threads))
    os.environ.setdefault("ZEN_NUM_THREADS", str(args.threads))
    sys.path.insert(0, str(REPO / "src"))

    from zen.audio.assistant.model import TARGET_NAMES, TARGET_UNITS
    from zen.audio.assistant.training import train_assistant
    from zen.errors import ZenError

    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"{time.perf_counter() - started:7.1f}s  {message}", flush=True)

    try:
        report = train_assistant(args.audio, args.out, args.cache, progress=say)
    except ZenError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    evaluation = report["evaluation"]
    header = f"{'held-out error (MAE)':22s}" + "".join(f"{'fp32':>9s}{'int8':>9s}{'base':>9s}")
    print(header)
    for name, unit in zip(TARGET_NAMES, TARGET_UNITS, strict=True):
        row = [evaluation["fp32"]["overall"][name]]
        row.append(evaluation["int8"]["overall"][name] if "int8" in evaluation else float("nan"))
        row.append(evaluation["fp32"]["baseline"][name])
        print(f"{name + ' (' + (unit or 'amount') + ')':22s}" + "".join(f"{v:9.3f}" for v in row))
    print(
        f"weights: {args.out} (n_fft {report['chosen_n_fft']},"
        f" {report['parameters']} parameters), {report['total_time_s']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

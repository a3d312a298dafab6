"""Make the FANN reference files that let zen's FANN parity tests run without FANN installed.

    apt-get install -y libfann-dev python3-fann2    # libfann 2.2 and its bindings (Debian)
    PYTHONPATH=src .venv/bin/python tools/make_fann_reference.py

Runs with zen's interpreter (it saves zen networks and data for FANN) and drives libfann through
``tools/fann_driver.py`` under /usr/bin/python3. Rewrites ``tests/neural/fann_reference/``:

- ``made/<case>.net``: networks FANN built (every activation, a sparse, a shortcut and a
  fixed-point one), with ``fann_run``'s outputs on fixed inputs;
- ``saved/<case>.net``: networks zen saved, with the outputs FANN computes when it loads them;
- ``train.data``: a training file zen wrote, with the numbers FANN reads from it;
- ``nguyen_widrow_initial.net``: FANN's ``fann_init_weights`` on ``train.data`` after
  ``srand(seed)``, with the ``rand()`` values it drew; ``nguyen_widrow_trained.net``: that
  network after full-batch iRPROP- epochs, with the MSE of every epoch;

and ``reference.json`` with all the numbers. The cases are in tests/neural/fann_cases.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "neural"))

# The path above makes the shared test cases importable.
from fann_cases import (
    REFERENCE_DIR,
    REFERENCE_FILE,
    TRAINING,
    WIDE_ID,
    WIDE_INPUTS,
    ZEN_NETS,
    batch_of_inputs,
    create_requests,
    fann_unavailable,
    run_fann,
    training_data,
    training_request,
    wide_net,
    zen_net,
)

from zen.neural.fann import save_fann_net, write_fann_data


def fann_version() -> str:
    """The installed libfann package, e.g. ``libfann2 2.2.0+ds-8``."""
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}", "libfann2"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() if completed.returncode == 0 else "libfann (version unknown)"


def relative(path: str | Path) -> str:
    return Path(path).relative_to(REFERENCE_DIR).as_posix()


def main() -> int:
    unavailable = fann_unavailable()
    if unavailable:
        print(unavailable, file=sys.stderr)
        return 1
    made_dir, saved_dir = REFERENCE_DIR / "made", REFERENCE_DIR / "saved"
    for directory in (made_dir, saved_dir):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)

    creates = create_requests(made_dir)
    loads = []
    for seed, case in enumerate(ZEN_NETS):
        path = saved_dir / f"{case.id}.net"
        save_fann_net(zen_net(case, seed), path)
        inputs = batch_of_inputs(case.layers[0], seed)
        loads.append({"id": case.id, "path": str(path), "inputs": inputs.tolist()})
    save_fann_net(wide_net(), saved_dir / f"{WIDE_ID}.net")
    loads.append(
        {"id": WIDE_ID, "path": str(saved_dir / f"{WIDE_ID}.net"), "inputs": WIDE_INPUTS.tolist()}
    )
    data_path = REFERENCE_DIR / "train.data"
    write_fann_data(data_path, *training_data())
    training = training_request(REFERENCE_DIR, data_path)

    results = run_fann(
        {"create": creates, "load": loads, "data": [str(data_path)], "init_train": [training]}
    )
    fann_inputs, fann_outputs = results[str(data_path)]
    reference = {
        "made_by": "tools/make_fann_reference.py",
        "fann": fann_version(),
        "made": {
            case["id"]: {
                "path": relative(case["path"]),
                "inputs": case["inputs"],
                "outputs": results[case["id"]],
            }
            for case in creates
        },
        "saved": {
            case["id"]: {
                "path": relative(case["path"]),
                "inputs": case["inputs"],
                "outputs": results[case["id"]],
            }
            for case in loads
        },
        "data": {"path": relative(data_path), "inputs": fann_inputs, "outputs": fann_outputs},
        TRAINING.id: {
            "initial_path": relative(training["initial_path"]),
            "trained_path": relative(training["final_path"]),
            **results[TRAINING.id],
        },
    }
    REFERENCE_FILE.write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
    total = sum(path.stat().st_size for path in REFERENCE_DIR.rglob("*") if path.is_file())
    print(f"wrote {REFERENCE_DIR} ({total / 1024:.0f} KiB) with {fann_version()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

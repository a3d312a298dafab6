"""``zen info``: versions, compute devices and thread settings."""

from __future__ import annotations

import platform
from typing import Annotated, Any

from rich.table import Table

import zen
from zen.cli._shell import app, console, json_option, print_json, reports_errors


@app.command()
@reports_errors
def info(json_output: Annotated[bool, json_option("the same facts")] = False) -> None:
    """Show versions, compute devices and thread settings."""
    facts = _facts()
    if json_output:
        print_json(facts)
        return
    table = Table(title=f"zen-neural {facts['zen']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("python", facts["python"])
    table.add_row("torch", facts["torch"])
    table.add_row("numpy / pandas", f"{facts['numpy']} / {facts['pandas']}")
    table.add_row("platform", facts["platform"])
    chosen = facts["device"]
    table.add_row(
        "device", f"{chosen['device']} ({chosen['kind']}: {chosen['name']}) — {chosen['reason']}"
    )
    for available in facts["available_devices"]:
        table.add_row("  available", f"{available['device']}: {available['name']}")
    table.add_row("threads", f"{facts['threads']} of {facts['cores']} cores")
    table.add_row("compile", facts["compile"])
    console.print(table)


def _facts() -> dict[str, Any]:
    import numpy
    import pandas
    import torch

    from zen import compute

    threads = compute.configure_threads()
    chosen = compute.device_info()
    return {
        "zen": zen.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "platform": platform.platform(),
        "device": {
            "device": str(chosen.device),
            "kind": chosen.kind,
            "name": chosen.name,
            "reason": chosen.reason,
        },
        "available_devices": [
            {"device": str(each.device), "name": each.name} for each in compute.available_devices()
        ],
        "threads": threads,
        "cores": compute.available_cores(),
        "compile": compute.compile_status(),
    }

"""``python -m zen.cli ...``: the ``zen`` command without its console script."""

from zen.cli import main

main()

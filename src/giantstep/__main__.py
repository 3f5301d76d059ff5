"""``python -m giantstep`` is the same Hydra app as the ``giantstep`` command."""

from giantstep.cli import main

main()

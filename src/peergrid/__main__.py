"""``python -m peergrid`` is the ``peergrid`` command."""

from peergrid.cli import main

main()

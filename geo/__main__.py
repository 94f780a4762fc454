"""Command line of the territory package: ``python -m geo …``."""

from geo.cli import main

raise SystemExit(main())

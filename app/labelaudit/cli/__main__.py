"""``python -m labelaudit.cli``."""

from labelaudit.cli import main

main()

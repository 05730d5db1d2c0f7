"""`python -m reminders` is the `aftercare` command."""

from reminders.cli import main

main()

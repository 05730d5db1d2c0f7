"""`python -m reminders` is the `aftercare` command."""

from reminders.cli.app import main

main()

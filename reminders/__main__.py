"""`python -m reminders` is the `aftercare` command."""

from reminders.cli.app import main

if __name__ == "__main__":  # not again in a worker process (sending/render_pool.py)
    main()

"""The `aftercare` command: an entry point, importing the rest lazily."""

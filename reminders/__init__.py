"""Aftercare: timely aftercare reminders by SMS and email after clinic treatment sessions."""

__version__ = "0.1.0"

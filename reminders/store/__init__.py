"""The database: tables, the engine, and the moves on them that keep history."""

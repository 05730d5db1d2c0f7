"""From a completed session to outbox rows: enrollment and the planner."""

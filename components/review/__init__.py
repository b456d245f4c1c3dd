"""Reviewing a stack offline: the plan (and, later, diffs and cost), from the pure layers only."""

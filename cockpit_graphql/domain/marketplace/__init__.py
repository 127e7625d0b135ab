"""Connections, agents, assignment and the marketplace (domain.md §4)."""

"""Policies: model access, feature flags, guardrails and the connection mode, resolved along a user's
chain with a trace of every setting on the way (domain.md §3)."""

"""Budgets and credits (domain.md §2): plans, cycles, caps, effective allocation, metering, ledger."""

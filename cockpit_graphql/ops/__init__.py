"""Operator tasks behind the CLI: bootstrap, demo data, doctor, reset."""

"""Observability (domain.md §5): cost attribution from daily rollups, anomalies, audit and SCIM quality."""

"""The platform model catalog (domain.md §3): providers' models with their capabilities and token
prices, managed by super admins, seeded from provider environment lists, priced per token."""

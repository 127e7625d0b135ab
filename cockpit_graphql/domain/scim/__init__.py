"""SCIM 2.0 provisioning (RFC 7643/7644): tokens, users, groups and their mapping onto the directory.

HTTP lives in `cockpit_graphql/scim/`; this package imports neither strawberry nor starlette. The
rules are in docs/scim.md.
"""

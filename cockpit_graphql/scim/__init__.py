"""SCIM 2.0 over HTTP (starlette), mounted at /scim/v2; the rules live in cockpit_graphql/domain/scim."""

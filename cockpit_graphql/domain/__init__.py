"""The rules. Nothing in this package imports strawberry or starlette."""

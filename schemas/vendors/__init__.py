"""Vendor adapters: each turns one vendor's webhook payload into normalized commands.

Every adapter has a `name`, a `body_schema` (the marshmallow schema of the payload,
also used for the OpenAPI document) and `translate(payload, context) -> list[dict]`
returning normalized commands (empty: acknowledged, nothing to forward) or raising
`marshmallow.ValidationError` with messages nested like the payload.
"""

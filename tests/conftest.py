"""Shared fixtures live in tests/plugins/ so each area owns its own."""

pytest_plugins = [
    "tests.plugins.services",
    "tests.plugins.sim",
]

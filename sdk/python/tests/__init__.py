"""The Python SDK's tests.

A package, so pytest imports its conftest as `tests.conftest`: the top-level module
`conftest` stays the repository root's, which some tests import from.
"""

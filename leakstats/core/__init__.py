"""Shared vocabulary, validators, errors and file helpers: the dependency-free base every layer
imports (standard library and numpy only)."""

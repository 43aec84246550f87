"""A minimal CRI (runtime.v1) client for the integration tests: see client.py."""

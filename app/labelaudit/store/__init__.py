"""Persistence: database engine and tables, content-addressed artifacts, queries."""

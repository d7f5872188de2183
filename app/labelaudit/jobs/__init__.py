"""Background audits: a database-backed queue and the worker that drains it."""

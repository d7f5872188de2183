"""Use cases that own a transaction: upload, derive a noisy dataset, create/cancel/delete an audit, compare.

Routes and the worker call these; they call the store (persistence only) and the
domain (``labelaudit.core``), and decide where a transaction begins and ends.
"""

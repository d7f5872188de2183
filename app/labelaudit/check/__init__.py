"""The CI data-quality gate behind ``labelaudit check``: policy, verdict, reports."""

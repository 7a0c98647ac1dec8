"""routesql: robust text-to-SQL from open-weight language models (ROUTE, SENSE, LR-SQL)."""

__version__ = "0.1.0"

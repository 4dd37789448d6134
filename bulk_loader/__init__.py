"""bulk_loader: create and update Kartra leads from a CSV or XLSX sheet."""

__version__ = "0.1.0"

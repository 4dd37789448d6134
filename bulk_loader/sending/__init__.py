"""Sending valid rows: one call per row, paced, retried only where safe, lost answers settled."""

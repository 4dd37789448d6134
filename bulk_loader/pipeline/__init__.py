"""One row path for every run: read -> template -> validate -> (send) -> results."""

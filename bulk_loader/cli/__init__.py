"""The `bulk-loader` command: click, signals and the terminal live here alone."""

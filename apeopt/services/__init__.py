"""What the CLI commands and batch jobs both run, below both of them: an optimize run (new or
resumed) and a comparison, each from its config to its written run folder and its record."""

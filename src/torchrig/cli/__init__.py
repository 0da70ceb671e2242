"""The ``torchrig`` command: one module per command group. Parses, calls the core, renders; no logic."""

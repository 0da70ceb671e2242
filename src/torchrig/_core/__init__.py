"""The small shared core every other room may use, and which imports none of them.

- :mod:`.errors`: :class:`UserError` (one sentence, a non-zero exit) and friends;
- :mod:`.atomic`: writing files atomically (temp file, fsync, replace, keep mode, follow links);
- :mod:`.redact`: masking credentials, secret values, home directories and user names in what is shown;
- :mod:`.prefilter`: the literals a regular expression needs, so a large text is searched only where they occur;
- :mod:`.terminal`: the one console rule (prose wraps at words on a terminal, nothing wraps when piped,
  secrets masked before layout), indented prose and tables printed whole;
- :mod:`.units`: sizes as people read them ("204.0 KiB");
- :mod:`.paths`: where torchrig keeps things (config, state, cache, data, shared memory), resolved in
  one place and overridable by environment variables, so tests and users can move them;
- :mod:`.seams`: the narrow interfaces to the outside world (NVML, subprocesses, the filesystem root,
  HTTP), each with one real implementation and one test double.

May import: the standard library and third-party packages only. Never another ``torchrig`` room.
"""

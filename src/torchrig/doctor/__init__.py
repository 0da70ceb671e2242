"""The doctor: probe (or parse a report) -> Facts -> checks -> Findings -> render.

- :mod:`.facts` is the model every stage shares: what is known about a machine, with where each value
  came from; :mod:`.findings` is what a check concludes.
- :mod:`.probe` is the only code that touches the live machine, through :mod:`torchrig._core.seams`.
- :mod:`.report` turns someone else's evidence (collect_env output, logs, ``--json``) into Facts.
- :mod:`.checks` are pure functions from Facts (and knowledge) to Findings, ordered root cause first.
- :mod:`.render` shows Findings and Facts as a console report, JSON or Markdown.

May import: :mod:`torchrig.knowledge` and :mod:`torchrig._core`. Never ``mirrors`` or ``envs``: what the
doctor needs from them (the PyTorch index a mirror serves) is handed in by the CLI.
"""

"""Environments with the PyTorch build that fits: where they are planned for, and the executors that make them.

- :mod:`.planning`: the machine a plan is for (this one, through the doctor's probes and its one
  Facts-to-target adapter, or one described by ``--driver`` / ``--gpu`` / ``--cc``); the plan itself is
  knowledge's rule, :func:`torchrig.knowledge.builds.plan`;
- :mod:`.spec`: reading an ``environment.yml`` / requirements file;
- :mod:`.executors`: conda/mamba/micromamba, uv, or venv + pip: the steps, ``create`` (complete or
  absent), and reading the doctor's verdict inside the new environment;
- :mod:`.export`: the file that recreates an environment, with its torch index.

May import: :mod:`torchrig.doctor` (probes and the target adapter), :mod:`torchrig.knowledge`,
:mod:`torchrig._core`. Never ``mirrors``: the CLI hands in the PyTorch index a mirror serves.
"""

"""``torchrig selftest``: a short, real training run plus the probes that catch boxes that run but are wrong.

Stages, each with a verdict (:mod:`torchrig.selftest.stages`): rendezvous, device smoke, peer-to-peer,
collectives, DDP training through ``torchrig.data``, checkpoint round trip. :mod:`~torchrig.selftest.plan`
decides who runs them, :mod:`~torchrig.selftest.launcher` starts the ranks (its header states the
protocol), :mod:`~torchrig.selftest.rank` is what each rank does, :mod:`~torchrig.selftest.workdirs` where
they work (and what a killed run left). Importing this package never imports torch.
"""

from torchrig.selftest.report import SCHEMA, Plan, Report, StageResult

__all__ = ["SCHEMA", "Plan", "Report", "StageResult"]

"""Environments with the PyTorch build that fits: the plan (pure), and the executors that make one."""

from torchrig.knowledge.builds import Machine, Plan, Rejected, Suggestion, machine_from_facts, plan

__all__ = ["Machine", "Plan", "Rejected", "Suggestion", "machine_from_facts", "plan"]

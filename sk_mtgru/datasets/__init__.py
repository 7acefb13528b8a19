"""Data sets: generators of synthetic multi-task sequence problems."""

from ._synthetic import make_multitask_sequences

__all__ = ["make_multitask_sequences"]

"""Data sets: the bundled smartwatch recordings and a synthetic generator."""

from ._synthetic import make_multitask_sequences
from ._watch import load_watch

__all__ = ["load_watch", "make_multitask_sequences"]

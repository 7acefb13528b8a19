"""Data sets: the bundled smartwatch recordings and synthetic generators."""

from ._intensive_care import make_intensive_care_stays
from ._synthetic import make_multitask_sequences
from ._watch import load_watch

__all__ = ["load_watch", "make_intensive_care_stays", "make_multitask_sequences"]

"""Data sets: the bundled smartwatch recordings, synthetic generators, and the
converter of long frames."""

from ._intensive_care import make_intensive_care_stays
from ._long import from_long
from ._synthetic import make_multitask_sequences
from ._watch import load_watch

__all__ = [
    "from_long",
    "load_watch",
    "make_intensive_care_stays",
    "make_multitask_sequences",
]

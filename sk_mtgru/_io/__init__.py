"""Safe model files: weights in safetensors, everything else as JSON. No pickle.

- ``_model``: ``save`` and ``load``, the dispatcher;
- ``_format``: the file itself (header, digest, limits, reading and writing);
- ``_registry``: the estimator classes a file may name (closed to the package's);
- ``_network``: the network's description and weights;
- ``_targets``: each kind of targets' layout, read as a ``TaskEncoding``;
- ``_pipeline``: a pipeline's scalers;
- ``_legacy``: what older formats and files leave out.

The format is specified in ``docs/file_format.rst``.
"""

from ._format import FORMAT_VERSION
from ._model import load, save
from ._registry import register_estimator

__all__ = ["save", "load", "FORMAT_VERSION", "register_estimator"]

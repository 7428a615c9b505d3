"""Shadow models of kernel objects. Each consumes model operations (see tracereplay/mapping.py)."""

from .gpuvm import GpuvmModel
from .lock import LockModel

MODEL_CLASSES = [LockModel, GpuvmModel]

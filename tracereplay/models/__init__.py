"""Shadow models of kernel objects. Each consumes model operations (see tracereplay/mapping.py)."""

from .lock import LockModel

MODEL_CLASSES = [LockModel]

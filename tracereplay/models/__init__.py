"""Shadow models of kernel objects. Each consumes model operations (see tracereplay/mapping.py)."""

from .fence import FenceModel
from .gpuvm import GpuvmModel
from .lock import LockModel
from .refcount import RefcountModel
from .slab import SlabModel

MODEL_CLASSES = [LockModel, FenceModel, SlabModel, RefcountModel, GpuvmModel]

"""tracereplay: replay Linux kernel traces and logs through shadow models of the kernel's locks,
fences, RCU, refcounts and DRM GPUVM objects, and report every broken invariant with evidence."""

from .api import Trace, check, load

__all__ = ["Trace", "check", "load"]
__version__ = "0.1.0"

"""noisylabels: robust losses, noise models and networks for learning from noisy labels.

The public API is the names below; each is imported when first used, so that `import noisylabels.grid`
(the study's runner, which needs no torch) does not import torch.
"""
import importlib

__version__ = "0.1.0"

_API = {"get_loss": "losses", "list_losses": "losses", "make_noisy_labels": "noise", "make_model": "model",
        "UserError": "errors"}
__all__ = sorted(_API)


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'noisylabels' has no attribute '{name}'")


def __dir__():
    return sorted(list(globals()) + __all__)

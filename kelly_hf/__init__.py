"""Kelly HF datasets: builders and contracts for the five Kelly models."""

__version__ = "0.1.0"


def load_dataset(*args, **kwargs):
    """See :func:`kelly_hf.loading.load_dataset` (imported lazily: `datasets` is heavy)."""
    from kelly_hf.loading import load_dataset as _load

    return _load(*args, **kwargs)

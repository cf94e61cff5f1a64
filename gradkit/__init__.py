"""gradkit: micrograd's Value and a vectorised Tensor, written once against ``backends`` (numpy, CuPy,
array_api_strict), with the makemore models and a ``gradkit`` command line."""

__version__ = "0.1.0"

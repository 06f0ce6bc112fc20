"""AscendKit Analytics for Python servers: `from ascendkit import Analytics`."""

__version__ = "0.1.0"

from .client import Analytics, ConfigurationError  # noqa: E402 - the transport reads __version__

__all__ = ["Analytics", "ConfigurationError", "__version__"]

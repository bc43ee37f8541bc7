"""llamaprof: read, compare and capture Nsight Systems profiles of llama-server."""

__version__ = "0.2.0"

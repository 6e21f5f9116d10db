"""Anomaly Sentinel runtime package: shared by every Lambda function through the common layer.

Pure logic (decoding, batching, policies, message building) lives beside thin AWS adapters so
that most of it is testable without an emulator.
"""

__version__ = "0.1.0"

"""Simulated Taobao (TOP), JD and Pinduoduo open platforms: a real HTTP service plus an in-process form.

Wire protocol: PROTOCOL.md next to this file. No Django imports here (it runs as its own process).
"""

from .server import MockPlatforms, running_mock_platforms, serve, start

__all__ = ["MockPlatforms", "running_mock_platforms", "serve", "start"]

"""Simulation helpers shipped with vrrpkit so users can replay their own configs too."""

from vrrpkit.testing.simlan import FakeClock, SimHost, SimLan

__all__ = ["FakeClock", "SimHost", "SimLan"]

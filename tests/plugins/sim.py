"""Fixture `sim`: the OPS-COM simulator on a free port (built in bridge.sim)."""

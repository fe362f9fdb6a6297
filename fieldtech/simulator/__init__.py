"""Virtual controllers for demos, training and tests (mDNS + HTTP + pty serial, OpenSprinkler)."""

from fieldtech.simulator.simulator import BackgroundSimulator, SimulatedDevice, Simulator

__all__ = ["BackgroundSimulator", "SimulatedDevice", "Simulator"]

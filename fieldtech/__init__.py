"""fieldtech: the terminal app for irrigation and connected-home contractors."""

__version__ = "0.1.0"

"""Textual screens: the only part (with widgets/) that imports textual."""

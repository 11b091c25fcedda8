"""Presets shipped with cloudmotion (installed as the ``cloudmotion.presets`` package)."""

"""Settings: every option's spec (default, unit, rule, help), config files, presets and provenance."""

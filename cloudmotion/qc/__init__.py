"""Quality control: the flag bits, the registered tests that set them, and the field statistics they use."""

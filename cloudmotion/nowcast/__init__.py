"""Nowcasting: a dense motion field from the vectors, semi-Lagrangian extrapolation and skill scores."""

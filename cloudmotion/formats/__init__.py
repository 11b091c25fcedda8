"""Formats: the frame readers (the reader contract, Frame and FrameInfo) and the vector writers, one module per format."""

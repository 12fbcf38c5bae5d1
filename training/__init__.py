"""Offline trainer: datasets as configuration, corpus building, fitting, calibration and ONNX export."""

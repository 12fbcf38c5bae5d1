"""Structured JSON logging with request ids, Prometheus metrics and the request middleware."""

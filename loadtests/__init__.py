"""Load tests: locust traffic (locustfile.py), the runner (run.py) and the corpus builder."""

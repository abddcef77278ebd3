"""The background worker (``loop.py``) and the commands that run it: ``run_worker``, and
``serve``, which runs Daphne with the worker in a thread (the embedded default)."""

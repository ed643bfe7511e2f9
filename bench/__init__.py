"""``make bench``: seed a realistic data set, serve the app under gunicorn, drive load with
wrk from a separate process and print every figure as a ratio against baselines measured
in the same run. Not part of ``make test``; ``tests/test_bench_smoke.py`` runs a tiny one."""

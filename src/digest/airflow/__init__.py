"""The Airflow side of seller-digest: the only package that may import Airflow.

``home`` and ``launcher`` do not import Airflow (they write airflow.cfg and start Airflow's own
commands as child processes), so the CLI stays fast; ``tasks`` and ``admin`` run inside Airflow.
May import every package of the library; nothing else in the library imports it (cli loads it lazily).
"""

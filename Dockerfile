# Image of the distributed mode (docker-compose.yml): Airflow's own image plus seller-digest.
# The project is installed editable at /opt/seller-digest, where compose mounts dags/, plugins/
# and templates/ (so a change to a DAG or a template needs no rebuild).
FROM apache/airflow:3.3.2-python3.11

USER root
WORKDIR /opt/seller-digest
COPY --chown=airflow:root requirements.txt pyproject.toml README.md ./
COPY --chown=airflow:root src ./src
USER airflow
# requirements.txt pins everything (Airflow 3.3.2, celery<5.7 for the Celery provider 3.26)
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/seller-digest
WORKDIR /opt/airflow

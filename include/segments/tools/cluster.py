"""`segments cluster`: a local Citus cluster, a coordinator and N workers on loopback ports.

Each node is a server from the embedded PostgreSQL binaries (`server.Node`) with Citus preloaded,
its own data folder and log under `.local/citus/`, and the same superuser password as the main
server. The coordinator holds the warehouse database; the workers hold its shards. The source
stays on the main server, a plain PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from segments import queries
from segments.settings import LOCAL_CITUS_PORT, LOCAL_DIR
from segments.tools import citus, server

CLUSTER_DIR = LOCAL_DIR / "citus"
WAREHOUSE = server.DATABASES["warehouse"]
# The main server's settings, with Citus preloaded and smaller buffers: several nodes share one machine.
NODE_SETTINGS = tuple({**server.SERVER_SETTINGS, "shared_buffers": "'256MB'",
                       "shared_preload_libraries": "'citus'"}.items())


def node(name: str, port: int) -> server.Node:
    return server.Node(CLUSTER_DIR / name, port, CLUSTER_DIR / f"{name}.log", NODE_SETTINGS)


def coordinator() -> server.Node:
    return node("coordinator", LOCAL_CITUS_PORT)


def workers(count: int) -> list[server.Node]:
    return [node(f"worker-{number}", LOCAL_CITUS_PORT + number) for number in range(1, count + 1)]


def nodes() -> list[server.Node]:
    """The coordinator and every worker initialised so far (running or not)."""
    return [coordinator(), *_initialised_workers()]


def _initialised_workers() -> list[server.Node]:
    found = sorted(path.name for path in CLUSTER_DIR.glob("worker-*") if (path / "PG_VERSION").exists())
    return [node(name, LOCAL_CITUS_PORT + int(name.split("-")[1])) for name in found]


@dataclass(frozen=True)
class ClusterStatus:
    coordinator: server.ServerStatus
    workers: list[server.ServerStatus]
    active_workers: list[tuple[str, int]]

    @property
    def running(self) -> bool:
        return self.coordinator.running and all(worker.running for worker in self.workers)


def start(worker_count: int) -> ClusterStatus:
    """Start the coordinator and `worker_count` workers (initialising them the first time), put Citus
    in the warehouse database of each, and register the workers with the coordinator."""
    if not citus.installed():
        raise citus.CitusBuildError("Citus is not installed in the embedded PostgreSQL: run `make citus` first.")
    nodes = [coordinator(), *workers(worker_count)]
    for each in nodes:
        server.start_node(each)
        server.create_database(WAREHOUSE, port=each.port)
        with psycopg.connect(server.url(WAREHOUSE, port=each.port), autocommit=True) as conn:
            queries.execute(conn, "internal/citus__create_extension.sql")
    # A node reaches the others as the session's role, with that role's password, kept in Citus'
    # catalog on every node (readable by superusers only) rather than in a file.
    passwords = {server.SUPERUSER: server.superuser_password()}
    for each in nodes:
        _store_node_passwords(each, passwords)
    with psycopg.connect(server.url(WAREHOUSE, port=nodes[0].port), autocommit=True) as conn:
        _move_workers_registered_on_other_ports(conn, nodes[1:])
        queries.execute(conn, "internal/citus__set_coordinator.sql", {"host": server.HOST, "port": nodes[0].port})
        for worker in nodes[1:]:
            queries.execute(conn, "internal/citus__add_worker.sql", {"host": server.HOST, "port": worker.port})
    # Created through Citus (in the warehouse database) once the workers are registered, the
    # read-only role exists on every node.
    server.ensure_analyst_role(port=nodes[0].port, database=WAREHOUSE)
    for each in nodes:
        _store_node_passwords(each, {server.ANALYST_ROLE: server.analyst_password()})
    return status()


def _move_workers_registered_on_other_ports(coordinator_conn: psycopg.Connection, started: list[server.Node]) -> None:
    """Point the workers the coordinator knows on ports no worker listens on now at the started
    workers' free ports, in port order (worker-1 stays the first): otherwise adding a worker fails
    on the unreachable ones, and the shards placed on them are lost to the cluster."""
    registered = [(row["node_name"], row["node_port"])
                  for row in queries.fetch_all(coordinator_conn, "internal/citus__active_workers.sql")]
    started_ports = [worker.port for worker in started]
    registered_ports = {port for _, port in registered}
    stale = [(host, port) for host, port in registered if port not in started_ports]
    free_ports = [port for port in started_ports if port not in registered_ports]
    moves = list(zip(stale, free_ports))
    for (old_host, old_port), port in moves:
        queries.execute(coordinator_conn, "internal/citus__move_worker.sql",
                        {"host": server.HOST, "port": port, "old_host": old_host, "old_port": old_port})
    if moves:
        queries.execute(coordinator_conn, "internal/citus__sync_metadata.sql")


def _store_node_passwords(each: server.Node, passwords: dict[str, str]) -> None:
    with psycopg.connect(server.url(WAREHOUSE, port=each.port), autocommit=True) as conn:
        for role, password in passwords.items():
            queries.execute(conn, "internal/citus__node_password.sql", {"role": role, "authinfo": f"password={password}"})


def recreate_warehouse(worker_count: int) -> None:
    """An empty warehouse database, with Citus, on every node of a running cluster (tests, the bench)."""
    start(worker_count)
    for each in [coordinator(), *workers(worker_count)]:
        server.drop_database(WAREHOUSE, port=each.port)
    start(worker_count)


def stop() -> ClusterStatus:
    for each in [*_initialised_workers(), coordinator()]:
        server.stop(each)
    return status()


def status() -> ClusterStatus:
    main = server.status(coordinator())
    nodes = [server.status(worker) for worker in _initialised_workers()]
    active: list[tuple[str, int]] = []
    if main.running:
        with psycopg.connect(server.url(WAREHOUSE, port=main.port)) as conn:
            active = [(row["node_name"], row["node_port"])
                      for row in queries.fetch_all(conn, "internal/citus__active_workers.sql")]
    return ClusterStatus(main, nodes, active)


def warehouse_url() -> str:
    """The distributed warehouse, through the coordinator, as the superuser."""
    return server.url(WAREHOUSE, port=LOCAL_CITUS_PORT)


def describe(cluster: ClusterStatus) -> str:
    lines = [f"coordinator  {'running' if cluster.coordinator.running else 'stopped'}  port {cluster.coordinator.port}  "
             f"{cluster.coordinator.pgdata}"]
    for worker in cluster.workers:
        lines.append(f"worker       {'running' if worker.running else 'stopped'}  port {worker.port}  {worker.pgdata}")
    lines.append(f"active workers registered with the coordinator: {len(cluster.active_workers)}")
    if cluster.coordinator.running:
        # A line to paste into a shell that reads the password from its file: the password itself
        # never shows on a terminal, whose output ends up in CI logs and shared screens.
        password_from_file = f"$(cat '{server.PASSWORD_FILE}')"
        lines.append(f"warehouse    export AIRFLOW_CONN_SEGMENT_WAREHOUSE="
                     f"\"{server.url(WAREHOUSE, port=cluster.coordinator.port, password=password_from_file)}\"")
    return "\n".join(lines)

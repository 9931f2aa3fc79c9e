#!/usr/bin/env bash
# Restarts the local PostgreSQL or MariaDB and waits (at most 60 s) until it accepts TCP
# connections on 127.0.0.1 again. Used by the scheduler fault test
# (GEARBOX_FAULT_DB_RESTART_POSTGRES / GEARBOX_FAULT_DB_RESTART_MYSQL) to restart the real
# database under running scheduler instances.
#   usage: bash scripts/restart-db.sh postgres|mysql
set -euo pipefail

which_db="${1:-}"
deadline=$((SECONDS + 60))

port_open() {
  # bash's /dev/tcp: no dependency on nc or ss. The subshell closes the socket again.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() { # port, "open"|"closed"
  while ((SECONDS < deadline)); do
    if port_open "$1"; then [[ $2 == open ]] && return 0; else [[ $2 == closed ]] && return 0; fi
    sleep 0.2
  done
  echo "restart-db: port $1 still not $2 after 60 s" >&2
  return 1
}

case "$which_db" in
  postgres)
    version="$(ls /etc/postgresql | head -n 1)"
    pg_ctlcluster --skip-systemctl-redirect "$version" main restart
    wait_port 5432 open
    # Accepting TCP is not yet accepting queries (the startup may still be recovering).
    while ((SECONDS < deadline)); do
      pg_isready -q -h 127.0.0.1 -p 5432 && exit 0
      sleep 0.2
    done
    echo "restart-db: PostgreSQL not ready after 60 s" >&2
    exit 1
    ;;
  mysql)
    pid_file=/run/mysqld/mysqld.pid
    old_pid="$(cat "$pid_file" 2>/dev/null || true)"
    # A clean shutdown; if the server does not answer, its PID from the pid file.
    if ! mariadb-admin -uroot --connect-timeout=5 shutdown; then
      [[ -n "$old_pid" ]] && kill "$old_pid" 2>/dev/null || true
    fi
    wait_port 3306 closed
    # The process may linger briefly after closing its port; a second one would not start.
    while [[ -n "$old_pid" ]] && kill -0 "$old_pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.2
    done
    # As .ci/run starts it: the socket and pid directory must exist and belong to mysql.
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    # Matched by its pid file, not by the executable: other mariadbd processes (a test's own
    # Galera nodes) must not make start-stop-daemon think this one is already running.
    start-stop-daemon --start --oknodo --pidfile "$pid_file" --background --exec /usr/sbin/mariadbd
    wait_port 3306 open
    while ((SECONDS < deadline)); do
      mariadb -uroot -h 127.0.0.1 -P 3306 -e 'SELECT 1' >/dev/null 2>&1 && exit 0
      sleep 0.2
    done
    echo "restart-db: MariaDB not ready after 60 s" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 postgres|mysql" >&2
    exit 2
    ;;
esac

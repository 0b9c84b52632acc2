#!/usr/bin/env bash
# Starts every local service the tests use that is not already answering, then waits for its
# port. Installs a missing server from Debian's packages. Safe to run again at any time.
set -uo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-; }
apt_updated=0
ensure_pkg() { # binary package
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "$1" ] && return 0
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; fi
  echo "services: installing $2"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null 2>&1 || echo "services: could not install $2" >&2
}

start() { # name port command...
  local name=$1 port=$2; shift 2
  if port_open "$port"; then echo "services: $name up on $port"; return 0; fi
  echo "services: starting $name"
  bash -c "$*" >/dev/null 2>&1 || true
}

ensure_pkg pg_ctlcluster postgresql
ensure_pkg redis-server redis-server
ensure_pkg rabbitmq-server rabbitmq-server
ensure_pkg mosquitto mosquitto
ensure_pkg /usr/sbin/nats-server nats-server
ensure_pkg /usr/sbin/mariadbd mariadb-server
ensure_pkg promtool prometheus # the metrics tests check and scrape with the real Prometheus (started by the tests)
ensure_pkg /usr/sbin/sshd openssh-server # the storage sftp tests start a real OpenSSH sshd on a spare port
ensure_pkg /usr/bin/chromium chromium # the queue dashboard test drives a real headless Chromium (playwright-core)
# moto's S3 server (Python) serves the multipart-control calls s3rver lacks (ListParts,
# ListMultipartUploads, AbortMultipartUpload); the storage upload tests start it on a spare port.
if ! command -v moto_server >/dev/null 2>&1; then
  echo "services: installing moto[server] (pip)"
  pip install -q "moto[server]" >/dev/null 2>&1 ||
    echo "services: could not install moto[server]; the storage upload tests fail under CI=true without moto_server" >&2
fi

start postgres 5432 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start'
start redis 6379 'mkdir -p /var/lib/redis /var/log/redis; redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log'
start rabbitmq 5672 'rabbitmq-server -detached'
start mosquitto 1883 'mosquitto -d -c /etc/mosquitto/mosquitto.conf'
start nats 4222 'mkdir -p /var/lib/nats-server; start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log'
start mariadb 3306 'mkdir -p /run/mysqld; chown mysql:mysql /run/mysqld 2>/dev/null; start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd'

status=0
for svc in postgres:5432 redis:6379 rabbitmq:5672 mosquitto:1883 nats:4222 mariadb:3306; do
  name=${svc%%:*}; port=${svc##*:}
  for _ in $(seq 1 120); do port_open "$port" && break; sleep 0.5; done
  if port_open "$port"; then echo "services: $name ready on 127.0.0.1:$port"
  else echo "services: $name did NOT come up on 127.0.0.1:$port" >&2; status=1; fi
done
# The tests need the `test` databases; create them if a fresh server lacks them.
if port_open 5432; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" 2>/dev/null | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
fi
if port_open 3306; then
  mariadb -h 127.0.0.1 -u root -e 'CREATE DATABASE IF NOT EXISTS test' >/dev/null 2>&1 || true
fi
exit $status

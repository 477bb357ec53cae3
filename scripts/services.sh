#!/usr/bin/env bash
# Start RabbitMQ and PostgreSQL on this machine when they are not answering.
# Uses the commands this machine kind documents; prints one line per service.
set -u
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 1; done; return 1; }

if port_open 5672; then echo "rabbitmq: up"; else
  echo "rabbitmq: starting"; rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port 5672 || { echo "rabbitmq: did not start (try: rabbitmq-server -detached, or docker compose up -d rabbitmq)"; exit 1; }
  rabbitmqctl await_startup >/dev/null 2>&1 || true
fi
# The management API makes a test vhost in milliseconds (rabbitmqctl: about a second);
# tests fall back to rabbitmqctl when it cannot be enabled.
if ! port_open 15672; then
  rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 && wait_port 15672 \
    && echo "rabbitmq management: enabled" || echo "rabbitmq management: not available"
fi
if port_open 5432; then echo "postgresql: up"; else
  echo "postgresql: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start >/dev/null 2>&1 || true
  wait_port 5432 || { echo "postgresql: did not start"; exit 1; }
fi

#!/bin/sh
# Entrypoint of the test host image (tests/support/docker_engine.py, ensure_host_image):
# starts the servers named in the arguments, or in CARETAKER_SERVICES, each as its own
# user and on loopback only (the containers run with network_mode none), then waits.
#   caretaker-host postgresql mariadb redis mongodb http
# /run/caretaker-host.ready holds the started services once all of them answer.
set -eu

services="${*:-${CARETAKER_SERVICES:-}}"
rm -f /run/caretaker-host.ready

wait_until() {
    # wait_until WHAT COMMAND...: up to 60 s for COMMAND to succeed.
    what=$1
    shift
    tries=0
    until "$@" >/dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -ge 300 ]; then
            echo "caretaker-host: $what did not answer within 60 s" >&2
            exit 1
        fi
        sleep 0.2
    done
}

for service in $services; do
    case "$service" in
        postgresql)
            install -d -o postgres -g postgres -m 2775 /run/postgresql
            runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -w -t 60 \
                -D /var/lib/postgresql/15/main -l /var/log/postgresql/postgresql-15-main.log \
                -o "-c config_file=/etc/postgresql/15/main/postgresql.conf -c listen_addresses=127.0.0.1" start
            ;;
        mariadb)
            install -d -o mysql -g mysql /run/mysqld
            mariadbd --user=mysql --bind-address=127.0.0.1 --log-error=/var/log/mysql/error.log &
            wait_until mariadb mariadb-admin --protocol=socket ping
            ;;
        redis)
            runuser -u redis -- redis-server /etc/redis/redis.conf --bind 127.0.0.1 \
                --daemonize yes --supervised no
            wait_until redis redis-cli -h 127.0.0.1 ping
            ;;
        mongodb)
            # nx-27017, the MongoDB wire-protocol server over SQLite: no users, no authentication.
            install -d -o nobody -g nogroup /var/lib/mongodb /var/log/mongodb
            runuser -u nobody -- python3 -m nx_27017.nx_27017 --host 127.0.0.1 --port 27017 \
                --data-dir /var/lib/mongodb --log-file /var/log/mongodb/nx-27017.log \
                --pid-file /var/lib/mongodb/nx-27017.pid >/dev/null 2>&1 &
            wait_until mongodb python3 -c 'import pymongo; pymongo.MongoClient("127.0.0.1", 27017, serverSelectionTimeoutMS=500).admin.command("ping")'
            ;;
        http)
            # The application stand-in: static files on 127.0.0.1:8080, its access log in /var/log/app.
            install -d /srv/app /var/log/app
            [ -e /srv/app/health ] || echo '{"status": "healthy"}' >/srv/app/health
            python3 -m http.server --bind 127.0.0.1 --directory /srv/app 8080 >>/var/log/app/http.log 2>&1 &
            wait_until http python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:8080/health")'
            ;;
        *)
            echo "caretaker-host: unknown service $service (postgresql, mariadb, redis, mongodb, http)" >&2
            exit 2
            ;;
    esac
done

echo "$services" >/run/caretaker-host.ready
# sleep in the background so the TERM of docker stop ends the container at once.
trap 'exit 0' TERM INT
sleep infinity &
wait $!

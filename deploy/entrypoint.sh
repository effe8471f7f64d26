#!/bin/sh
# The image's processes by name (the Procfile's); anything else is run as given.
set -e
case "${1:-web}" in
    web) exec gunicorn app.asgi:application -c gunicorn.conf.py ;;
    worker) exec python3 -m app worker ;;
    migrate) exec python3 -m app migrate ;;
    *) exec "$@" ;;
esac

"""gunicorn settings of the web processes (Procfile `web`, benchmarks/load.py, benchmarks/pool.py).

Threads, not only processes: a hospital request mostly waits on PostgreSQL, and threads of one
process share one connection pool (DB_POOL_MAX_SIZE, psycopg's pool), so the server holds
WEB_WORKERS × DB_POOL_MAX_SIZE connections at most however many clients are connected; a
request that finds the pool empty waits for a connection (DB_POOL_TIMEOUT) instead of opening one.
"""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# Connections waiting beyond the busy threads queue in the kernel; 500 hospitals at once fit.
backlog = int(os.environ.get("WEB_BACKLOG", "2048"))
keepalive = 5
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 30
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
# Web processes take their connections from a pool unless told otherwise (workers and beat
# keep direct connections: a job holds its session for its whole run).
os.environ.setdefault("DB_POOL_MAX_SIZE", "8")
# gunicorn 27's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl): several
# servers on one machine (web beside the benchmarks' and tests' servers) would take it from
# each other. Nothing here uses it.
control_socket_disable = True

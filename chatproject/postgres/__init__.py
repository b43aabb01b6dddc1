"""Django's PostgreSQL backend, with the connection pool's checkout check
made a poll of the socket (base.DatabaseWrapper)."""

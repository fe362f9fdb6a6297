"""The reference cloud service (FastAPI + SQLAlchemy), installed with the `server` extra."""

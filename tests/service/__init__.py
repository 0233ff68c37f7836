"""The market as a service: API, agents, dashboard, database, faults."""

"""Tools for checking kwire against real Kafka and real clients (not shipped with kwire)."""

"""Small contender programs that use orchestr's Python API (run as scripts by the scenarios)."""

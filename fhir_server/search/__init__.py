"""Search: index extraction at write time, and parsing of queries into plans."""

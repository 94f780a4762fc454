"""Territory of the atlas: COG reference, boundary build and lookups."""

"""`make bench`: a reproducible load benchmark of the directory page query against the real server."""

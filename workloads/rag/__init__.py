"""The RAG API: hybrid search over the CVE store and its vector index, answers grounded in records.

``settings`` lists every environment variable; ``retrieval`` fuses exact ids, full text,
vectors and name matches; ``prompt`` keeps untrusted CVE text apart from instructions;
``service`` answers (with a model, or grounded without one); ``api`` serves it over HTTP.
"""

"""Data-plane programs that the cverag operator runs as Jobs and Deployments.

``feed`` streams CVE records from a source into Kafka, ``store`` consumes them into the
versioned PostgreSQL store, ``index`` keeps a vector index in sync with the store and
``rag`` answers questions.  They are configured by flags and environment variables only
and never import ``controllers``: the operator hands them configuration through the pod spec.
"""

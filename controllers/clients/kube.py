"""Kubernetes API clients for handlers: in-cluster credentials, else the local kubeconfig.

kopf keeps its own connection for watching; handlers use the official client for reads
and writes, created once per process.
"""

from __future__ import annotations

import functools
import os

from kubernetes import client, config


@functools.cache
def api_client() -> client.ApiClient:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
        return client.ApiClient()
    return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))


def custom() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client())


def core() -> client.CoreV1Api:
    return client.CoreV1Api(api_client())


def apps() -> client.AppsV1Api:
    return client.AppsV1Api(api_client())


def batch() -> client.BatchV1Api:
    return client.BatchV1Api(api_client())

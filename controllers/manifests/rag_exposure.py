"""How a RagEndpoint is reached from outside: the Ingress, its cert-manager Certificate, and status.url.

The Ingress carries cert-manager's issuer annotation, so with cert-manager installed the TLS
Secret is issued either way; when the cluster serves cert-manager's API the operator also
creates the Certificate explicitly, owned by the endpoint, so its state is visible next to it.
The Ingress routes only :data:`PUBLIC_PATHS`: scrapes and the OpenAPI UI are not public.
"""

from __future__ import annotations

from controllers.api.rag import RagEndpoint
from controllers.manifests.common import Manifest, child_name, labels, metadata
from controllers.manifests.llm import KIND
from controllers.manifests.rag import API, SERVICE_PORT, api_name

# What the public Ingress routes: the API (/v1/...), the MCP server for agents (/mcp, behind the
# same keys) and the page (/ exactly).  /metrics, /docs,
# /openapi.json and the probes stay reachable inside the cluster only (the Service).
PUBLIC_PATHS = (("/v1", "Prefix"), ("/mcp", "Exact"), ("/", "Exact"))


def tls_secret_name(rag: RagEndpoint) -> str:
    return child_name(rag.metadata.name, "tls")


def url(rag: RagEndpoint) -> str:
    """status.url: the Ingress (https with TLS) when exposed, else the in-cluster Service."""
    ingress = rag.spec.exposure.ingress
    if ingress is not None:
        return f"{'https' if ingress.tls else 'http'}://{ingress.host}"
    return f"http://{api_name(rag)}.{rag.metadata.namespace}.svc.cluster.local"


def ingress(rag: RagEndpoint) -> Manifest | None:
    """The Ingress for ``spec.exposure.ingress``; cert-manager's annotation names the issuer."""
    spec = rag.spec.exposure.ingress
    if spec is None:
        return None
    notes: dict[str, str] = {}
    backend = {"service": {"name": api_name(rag), "port": {"number": SERVICE_PORT}}}
    paths = [{"path": path, "pathType": kind, "backend": backend} for path, kind in PUBLIC_PATHS]
    body: Manifest = {"rules": [{"host": spec.host, "http": {"paths": paths}}]}
    if spec.class_name:
        body["ingressClassName"] = spec.class_name
    if spec.tls is not None:
        body["tls"] = [{"hosts": [spec.host], "secretName": tls_secret_name(rag)}]
        if spec.tls.issuer_ref is not None:
            key = "cluster-issuer" if spec.tls.issuer_kind == "ClusterIssuer" else "issuer"
            notes[f"cert-manager.io/{key}"] = spec.tls.issuer_ref.name
    meta = metadata(api_name(rag), rag.metadata.namespace, labels(KIND, rag.metadata.name, API), **notes)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": body}


def certificate(rag: RagEndpoint) -> Manifest | None:
    """An explicit cert-manager Certificate for the Ingress's TLS Secret (when an issuer is named).

    cert-manager's ingress-shim leaves a Certificate it does not own alone, so the annotation
    and this object never fight; the Certificate makes the TLS state visible and owned."""
    spec = rag.spec.exposure.ingress
    if spec is None or spec.tls is None or spec.tls.issuer_ref is None:
        return None
    meta = metadata(tls_secret_name(rag), rag.metadata.namespace, labels(KIND, rag.metadata.name, API))
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": meta,
        "spec": {
            "secretName": tls_secret_name(rag),
            "dnsNames": [spec.host],
            "issuerRef": {
                "name": spec.tls.issuer_ref.name,
                "kind": spec.tls.issuer_kind,
                "group": "cert-manager.io",
            },
        },
    }

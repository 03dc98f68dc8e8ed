"""Pure spec-to-manifest functions: a typed resource in, Kubernetes objects (dicts) out.

The handlers apply what these return, and the tests call the very same functions to know
what to expect, so there is one definition of "the consumer Deployment of a CveStore".
Nothing here talks to a cluster.
"""

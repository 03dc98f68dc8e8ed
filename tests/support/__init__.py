"""Helpers the tests share: Kubernetes object plumbing, polling."""

"""Tests of the index workload: embedders, vector backends and the local test LLM."""

"""Vector index workload: embeds CVE documents and keeps a vector backend in sync with the store.

``embedding`` turns text into vectors (in-process MiniLM, Hugging Face Inference API or a
text-embeddings-inference server); ``backends`` stores and searches them (pgvector or
Pinecone).  Both are chosen by configuration so the operator can swap them per CveIndex.
"""

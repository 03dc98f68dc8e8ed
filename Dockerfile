# One image for the operator and every workload (the entry points of pyproject's [project.scripts]).
#
# Networked machine:  docker build --build-arg VERSION=$(version) -t ghcr.io/cverag/cverag:$(version) .
# This machine (no registry): `make image` makes the base below from Debian's mirror with debootstrap,
# tags it with exactly this name and builds this same file with `buildah bud --pull=never`
# (devstack/image.py).  Both stages start from the same base, so the venv's interpreter symlink
# (/opt/cverag/bin/python -> /usr/bin/python3) resolves in the final stage.
#
# Debian package versions are not pinned (hadolint DL3008): bookworm's security updates replace
# a version on the mirror, so a pin would stop the build on the next point release; the Python
# dependencies are what the lock file pins.

FROM docker.io/library/debian:bookworm-slim AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

RUN python3 -m venv /opt/cverag
ENV PATH=/opt/cverag/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The dependencies first, from the lock files alone, so a source change reuses this layer.  Each
# pinned wheel is installed exactly, hash-checked (--no-deps: requirements/overrides.txt says why),
# and only wheels: nothing is compiled, so the builder needs no compiler either.  WHEELS names a
# directory of the context holding every locked wheel (devstack/image.py stages the wheelhouse of
# devstack/wheels.py there): set, nothing is fetched from an index; unset, pip uses PyPI.
ARG WHEELS=
COPY requirements/ /src/requirements/
RUN pip install --no-cache-dir --no-deps --require-hashes --only-binary=:all: ${WHEELS:+--no-index --find-links $WHEELS} \
      -r /src/requirements/lock.txt -r /src/requirements/build.txt \
 && python -m compileall -q -f --invalidation-mode unchecked-hash /opt/cverag/lib

# Then the project with the locked setuptools; pip and setuptools leave the venv afterwards.
COPY . /src/
RUN pip install --no-cache-dir --no-deps --no-build-isolation --no-compile /src \
 && pip uninstall -y pip setuptools \
 && python -m compileall -q -f --invalidation-mode unchecked-hash \
      /opt/cverag/lib/python3*/site-packages/controllers \
      /opt/cverag/lib/python3*/site-packages/workloads \
      /opt/cverag/lib/python3*/site-packages/devstack

FROM docker.io/library/debian:bookworm-slim

ARG VERSION=0.0.0.dev0
LABEL org.opencontainers.image.title="cverag" \
      org.opencontainers.image.description="Operator-first platform that turns the public CVE feed into a question-answering service on Kubernetes: the operator and every workload" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/cverag/cverag" \
      org.opencontainers.image.licenses="Apache-2.0"

# Only the interpreter and CA certificates (the feed fetches over HTTPS): no pip, no compiler.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 cverag \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin cverag

COPY --from=builder /opt/cverag /opt/cverag

# The root filesystem is read-only in every manifest and /tmp is an emptyDir: everything that
# writes (home, temp files, caches) goes there, and bytecode was compiled at build time.
ENV PATH=/opt/cverag/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/cverag \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    HF_HOME=/tmp/huggingface

USER 10001:10001
# The operator by default; every pod the operator makes names its own command (python -m ...).
CMD ["cverag-operator"]

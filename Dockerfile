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

FROM docker.io/library/debian:bookworm-slim AS deps

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

# Two venvs: /opt/tools holds pip and the build backend, /opt/cverag (what ships) never gets pip.
RUN python3 -m venv /opt/tools \
 && python3 -m venv --without-pip /opt/cverag
ENV PATH=/opt/tools/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The dependencies from the lock files alone, so a source change reuses this layer (and the image
# layer copied from it).  Each pinned wheel is installed exactly, hash-checked (--no-deps:
# requirements/overrides.txt says why), and only wheels: nothing is compiled, so no compiler is
# needed either.  WHEELS names a directory of the context holding every locked wheel
# (devstack/image.py stages the wheelhouse of devstack/wheels.py there): set, nothing is fetched
# from an index; unset, pip uses PyPI.
ARG WHEELS=
COPY requirements/ /src/requirements/
RUN pip install --no-cache-dir --no-deps --require-hashes --only-binary=:all: ${WHEELS:+--no-index --find-links $WHEELS} \
      -r /src/requirements/build.txt \
 && pip --python /opt/cverag/bin/python install --no-cache-dir --no-deps --require-hashes --only-binary=:all: \
      ${WHEELS:+--no-index --find-links $WHEELS} -r /src/requirements/lock.txt \
 && /opt/cverag/bin/python -m compileall -q -f --invalidation-mode unchecked-hash /opt/cverag/lib

# The project: a wheel built with the locked setuptools, installed under /app as if /app were /,
# so the image copies only the project's own files over the dependency layer.
FROM deps AS project
COPY . /src/
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /dist /src \
 && pip --python /opt/cverag/bin/python install --no-cache-dir --no-deps --no-compile --root /app /dist/*.whl \
 && /opt/cverag/bin/python -m compileall -q -f --invalidation-mode unchecked-hash -s /app -p / /app/opt/cverag/lib

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

COPY --from=deps /opt/cverag /opt/cverag
COPY --from=project /app/ /

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

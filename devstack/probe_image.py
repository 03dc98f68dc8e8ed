"""The real node's test image: Debian's static busybox plus ``kube-whoami``, without a registry.

Test pods need a shell and a few tools, which the pause image lacks, so this image carries
``/bin/busybox`` from Debian's ``busybox-static`` package with links for the applets the
tests call.  busybox's wget cannot finish a TLS handshake with the API server (it offers no
signature algorithm Go accepts), so a pod proves it reaches the API server with its
service-account token through ``/bin/kube-whoami`` (``k8s/kube_whoami.go``, standard library
only, compiled static in seconds), which verifies the server against the pod's CA bundle.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from devstack import proc
from devstack.pause import Image, write_archive

BUSYBOX = Path("/bin/busybox")
WHOAMI_SOURCE = Path(__file__).with_name("k8s") / "kube_whoami.go"
# Applets the tests call by name; everything else stays reachable as `busybox <applet>`.
_APPLETS = ("sh", "sleep", "cat", "id", "touch", "echo", "ls", "head", "tail", "env", "wget")


def probe_image() -> Image:
    """``cverag.local/probe:<hash>``, keyed by busybox, the probe's source and the Go version."""
    if not BUSYBOX.is_file():
        raise proc.ServiceError(f"{BUSYBOX} missing: apt-get install busybox-static")
    busybox, source = BUSYBOX.read_bytes(), WHOAMI_SOURCE.read_bytes()
    go = shutil.which("go") or "/usr/local/go/bin/go"
    key = hashlib.sha256(busybox + source + proc.run([go, "version"]).encode()).hexdigest()[:12]
    home = proc.cache_dir("probe-image", key)
    image = Image(f"cverag.local/probe:{key}", home / "image.oci.tar")
    if image.archive.is_file():
        return image
    whoami = home / "kube-whoami"
    env = {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}
    build = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(whoami), str(WHOAMI_SOURCE)]
    proc.run(build, cwd=home, env=env, what="go build kube-whoami")
    files = {"bin/busybox": busybox, "bin/kube-whoami": whoami.read_bytes()}
    links = {f"bin/{applet}": "busybox" for applet in _APPLETS}
    write_archive(image, files, links, {"Cmd": ["/bin/sh"]})
    return image

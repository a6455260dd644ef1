"""``kiji model prepare`` and ``kiji index build | info | rollback | add | remove``."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiji.cli import resources
from kiji.cli.console import eprint, progress_factory
from kiji.cli.resources import settings_from
from kiji.errors import InvalidInput, KijiError, ModelError
from kiji.exit_codes import as_kiji_error

_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

if TYPE_CHECKING:
    from kiji.corpus.edits import AddPlan
    from kiji.corpus.transaction import CorpusTransaction
    from kiji.retrieval.embedding.models.spec import ModelSpec
    from kiji.settings import Settings


def cmd_model_prepare(args: argparse.Namespace) -> int:
    from kiji.retrieval.embedding.models import registry
    from kiji.retrieval.embedding.prepare.mirror import MirrorUnavailable

    settings = settings_from(args)
    if args.name:
        spec = registry.get(args.name)
        if spec is None:
            raise InvalidInput(f"unknown model {args.name!r}; known: {', '.join(registry.MODELS)}")
    else:
        # Unset: the default, even where only the fallback is prepared so far.
        spec = settings.model_spec if settings.embedding_model else registry.MODELS[registry.DEFAULT]
        if spec is None:
            raise InvalidInput(f"KIJI_EMBEDDING_MODEL={settings.embedding_model!r} is not a model kiji "
                               "prepares (sentence-transformers loads it itself); name one of "
                               f"{', '.join(registry.MODELS)}")
    dest = Path(args.dest) if args.dest else settings.prepared_dir(spec)
    try:
        path = _prepare(spec, dest, args)
    except MirrorUnavailable as exc:
        fallback = registry.MODELS[registry.FALLBACK]
        if args.name or args.source or args.dest or spec.name == fallback.name:
            raise ModelError(f"cannot fetch {spec.name}: {exc}",
                             hint="check the network, or pass --source FOLDER with the published files") from None
        eprint(f"cannot fetch {spec.name} ({exc}).")
        eprint(f"Preparing the small model {fallback.name} instead, so kiji still runs; "
               f"run `kiji model prepare` again when the network is back.")
        spec = fallback
        path = _prepare(spec, settings.prepared_dir(spec), args)
    print(f"model ready at {path} ({spec.name}; {spec.licence})")
    return 0


def _prepare(spec: ModelSpec, dest: Path, args: argparse.Namespace) -> Path:
    from kiji.retrieval.embedding.model_files import ModelPrepError
    from kiji.retrieval.embedding.models.spec import PrepareOptions, prepare_with_onnx
    from kiji.retrieval.embedding.prepare.mirror import MirrorUnavailable

    eprint(f"{spec.title}: {spec.licence}")
    try:
        path = prepare_with_onnx(spec, dest, PrepareOptions(force=args.force, source=args.source, log=eprint),
                                 onnx=not args.no_onnx)
    except (KijiError, MirrorUnavailable):
        raise
    except ModelPrepError as exc:  # a hash mismatch, a foreign folder, a failed check: stop, named
        raise ModelError(f"model preparation failed: {exc}") from None
    except Exception as exc:  # a full disk, no permission: named by its kind; anything else here
        # is a failed export or check of the model, not a bug in kiji
        raise (as_kiji_error(exc) or ModelError(f"model preparation failed: {type(exc).__name__}: {exc}")) \
            from None
    return path


def cmd_model_list(args: argparse.Namespace) -> int:
    from kiji.retrieval.embedding.model_files import MARKER_FILE
    from kiji.retrieval.embedding.models import registry

    settings = settings_from(args)
    in_use = settings.model_spec
    for name, spec in registry.MODELS.items():
        ready = (settings.prepared_dir(spec) / MARKER_FILE).is_file()
        flags = ", ".join(f for f in ("default" if name == registry.DEFAULT else "",
                                      "in use" if in_use is spec else "",
                                      "prepared" if ready else "not prepared") if f)
        print(f"{name:24} {spec.dim}-d  {spec.memory:30} {flags}")
        print(f"{'':24} {spec.licence}")
    return 0


def cmd_index_build(args: argparse.Namespace,
                    change: Callable[[CorpusTransaction], None] | None = None) -> int:
    """Build and publish; with ``change``, first apply it to the corpus folder in a transaction
    that is undone unless the build publishes (``kiji index add`` / ``remove``)."""
    from kiji.corpus.transaction import CorpusTransaction, recover
    from kiji.retrieval.index.build import BuildSummary, build_index
    from kiji.retrieval.index.versions import build_lock
    from kiji.runtime import chunk_params

    settings = settings_from(args)
    embedder = resources.embedder(settings)  # before any change: a missing model changes nothing
    encoder = None
    if getattr(args, "ray", None) is not None:
        from kiji.runtime import ray_pool

        encoder = ray_pool(settings, embedder, args.ray or None, log=eprint)

    def build() -> BuildSummary:
        return build_index(
            corpus_paths=[settings.corpus_dir], index_dir=settings.index_dir, embedder=embedder,
            params=chunk_params(settings),
            batch_size=settings.embed_batch_size, keep_versions=settings.keep_versions,
            ann_threshold=settings.ann_threshold, compact_threshold=settings.compact_threshold,
            cache_dir=settings.cache_dir,
            full=getattr(args, "full", False),
            if_changed=getattr(args, "if_changed", False),
            max_article_bytes=settings.max_article_bytes,
            progress=progress_factory("embedding"), log=eprint, locked=True, encoder=encoder)

    with build_lock(settings.index_dir):
        if change is None:
            if settings.corpus_dir.is_dir():
                recover(settings.corpus_dir, eprint)  # never index half of an interrupted `add`
            summary = build()
        else:
            try:
                with CorpusTransaction(settings.corpus_dir, log=eprint) as tx:
                    change(tx)
                    summary = build()
            except Exception as exc:
                error = as_kiji_error(exc)
                if error is None:
                    raise  # a bug: main() reports it (the folder was restored all the same)
                error.hint = "; ".join(filter(None, [error.hint, "the corpus folder is as it was"]))
                raise error from None
    if args.json:
        print(json.dumps(summary.__dict__, ensure_ascii=False))
    else:
        print("\n".join(summary.lines()))
    return 0


def cmd_index_info(args: argparse.Namespace) -> int:
    from kiji.retrieval.index.store import VERSIONS, current_version, list_versions, load_version

    settings = settings_from(args)
    # Runs whatever state the folder is in: a damaged CURRENT or version is listed with its cause.
    pointer_error: str | None = None
    try:
        current = current_version(settings.index_dir)
    except KijiError as exc:
        current, pointer_error = None, str(exc)
    versions = list_versions(settings.index_dir)
    if current is None and pointer_error is None and not versions:
        from kiji.errors import IndexMissing

        raise IndexMissing(f"no index found in {settings.index_dir}", hint="build it with `kiji index build`")
    if current is not None and current not in versions:
        pointer_error = f"CURRENT names index version {current}, which does not exist"
    elif current is None and pointer_error is None:
        pointer_error = "CURRENT is missing: no version is served"
    info: dict[str, Any] = {"index_dir": str(settings.index_dir), "current": current,
                            "current_error": pointer_error, "versions": []}
    for name in versions:
        entry: dict[str, Any] = {"version": name, "current": name == current}
        try:
            loaded = load_version(settings.index_dir / VERSIONS / name)
            m = loaded.manifest
            entry.update(created_at=m["created_at"], articles=m["counts"]["articles"],
                         chunks=m["counts"]["chunks"], model=m["model"], index=m["index"],
                         chunker=m["chunker"], ok=True)
        except KijiError as exc:
            entry.update(ok=False, error=str(exc))
        info["versions"].append(entry)
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2))
        return 0
    print(f"index directory: {info['index_dir']}")
    if pointer_error:
        print(f"CURRENT: DAMAGED: {pointer_error}")
    for v in info["versions"]:
        mark = "*" if v["current"] else " "
        if v["ok"]:
            print(f"{mark} {v['version']}  {v['created_at']}  {v['articles']} articles, {v['chunks']} chunks, "
                  f"{v['index']['kind']}, model {Path(v['model']['id']).name} ({v['model']['fingerprint']}, "
                  f"{v['model']['runtime']}, dim {v['model']['dim']})")
        else:
            print(f"{mark} {v['version']}  DAMAGED: {v['error']}")
    return 0


def cmd_index_rollback(args: argparse.Namespace) -> int:
    from kiji.retrieval.index.versions import rollback

    settings = settings_from(args)
    print(f"current index version is now {rollback(settings.index_dir, log=eprint)}")
    return 0


def editable_corpus(settings: Settings) -> None:
    """`index add/remove` change the corpus folder: never the package data of an installed kiji."""
    from kiji.corpus.shipped import SHIPPED_CORPUS_DIR
    from kiji.settings import checkout_root

    if checkout_root() is None and settings.corpus_dir.resolve() == SHIPPED_CORPUS_DIR.resolve():
        raise InvalidInput("the shipped corpus is part of the installed package; set KIJI_CORPUS_DIR "
                           "(or --corpus) to a folder of your own")


def is_url(arg: str) -> bool:
    """``scheme://…`` is a URL (``ftp://`` too, refused by name later); anything else a path."""
    return bool(_URL_SCHEME.match(arg))


def cmd_index_add(args: argparse.Namespace) -> int:
    from kiji.corpus.edits import AddPlan, plan_add

    settings = settings_from(args)
    editable_corpus(settings)
    urls = [a for a in args.paths if is_url(a)]
    paths = [Path(a) for a in args.paths if not is_url(a)]
    plan = plan_add(settings.corpus_dir, paths, replace=args.replace,
                    max_bytes=settings.max_article_bytes) if paths else AddPlan()
    if not urls:
        status = cmd_index_build(args, plan.apply)
        for path in plan.displaced:
            eprint(f"replaced {path.name}")
        for _, name in plan.copies:
            eprint(f"added {name} to {settings.corpus_dir}")
        return status
    return add_urls(args, settings, urls, plan)


def add_urls(args: argparse.Namespace, settings: Settings, urls: list[str], files: AddPlan) -> int:
    """Fetch every URL first (any failure: nothing changes), then one build for pages and files."""
    import tempfile

    from kiji.corpus.web.fetch import Fetcher
    from kiji.corpus.web.pages import fetch_page
    from kiji.corpus.web.store import WebPlan, plan_pages
    from kiji.runtime import fetch_config

    with Fetcher(fetch_config(settings)) as fetcher:
        pages = [fetch_page(fetcher, url) for url in urls]
    with tempfile.TemporaryDirectory(prefix="kiji-web-") as staging:
        web = plan_pages(settings.corpus_dir, pages, Path(staging), WebPlan(plan=files))
        status = cmd_index_build(args, web.plan.apply) if web.changes else 0
    for url, aid in web.added:
        eprint(f"added {url} as {aid}")
    for url, aid in web.changed:
        eprint(f"changed {url}: replaced {aid}")
    for url, aid in web.unchanged:
        eprint(f"unchanged {url} ({aid}): nothing to do")
    for _, name in files.copies:
        eprint(f"added {name} to {settings.corpus_dir}")
    return status


def cmd_index_remove(args: argparse.Namespace) -> int:
    from kiji.corpus.edits import plan_remove

    settings = settings_from(args)
    editable_corpus(settings)
    doomed = plan_remove(settings.corpus_dir, args.id)

    def change(tx: CorpusTransaction) -> None:
        for path in doomed:
            tx.remove(path)

    status = cmd_index_build(args, change)
    for path in doomed:
        eprint(f"removed {path.name} from {settings.corpus_dir}")
    return status

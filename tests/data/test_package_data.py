"""What the wheel ships: every bundled data file, and the licence texts beside them.

The file list is computed the way setuptools builds it from ``pyproject.toml``
(packages found as namespace packages under ``tinynlp``, then the
``package-data`` globs), so a data file or licence text that a glob misses
fails here rather than in a user's install.
"""

import fnmatch
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LICENSES = REPO / "tinynlp" / "data" / "licenses"


def shipped_files():
    tomllib = pytest.importorskip("tomllib")
    from setuptools import find_namespace_packages

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setup = config["tool"]["setuptools"]
    include = setup["packages"]["find"]["include"]
    assert include == ["tinynlp*"]  # so walking tinynlp/ finds what setuptools finds
    packages = ["tinynlp"] + [f"tinynlp.{p}" for p in find_namespace_packages(
        where=str(REPO / "tinynlp")) if "__pycache__" not in p]
    globs = setup["package-data"]
    files = set()
    for package in packages:
        folder = REPO / package.replace(".", "/")
        patterns = globs.get("*", []) + globs.get(package, [])
        for f in folder.iterdir():
            if f.is_file() and (f.suffix == ".py"
                                or any(fnmatch.fnmatch(f.name, p) for p in patterns)):
                files.add(f.relative_to(REPO).as_posix())
    return files


def data_files():
    """Every file under tinynlp/ that is not Python source or a build by-product."""
    return {f.relative_to(REPO).as_posix() for f in (REPO / "tinynlp").rglob("*")
            if f.is_file() and f.suffix not in (".py", ".pyc", ".nbi", ".nbc")
            and "__pycache__" not in f.parts}


def test_every_bundled_file_is_in_the_wheel():
    shipped = shipped_files()
    missing = sorted(data_files() - shipped)
    assert missing == []
    assert "tinynlp/data/licenses/WordNet-3.0.txt" in shipped
    assert "tinynlp/text/data/wordnet_synonyms.json.gz" in shipped
    for name in ("weights.npz", "tokenizer.json", "config.json"):     # tn.pretrained.load
        assert f"tinynlp/pretrained/tinygpt/{name}" in shipped


def test_every_bundled_data_file_has_its_licence_text_in_the_package():
    index = (LICENSES / "README.md").read_text(encoding="utf-8")
    bundled = sorted(f for f in data_files() if f.endswith((".gz", ".xz")))
    assert len(bundled) >= 10
    unlisted = [f for f in bundled if f"`{f.removeprefix('tinynlp/')}`" not in index]
    assert unlisted == []
    named = set(re.findall(r"`([\w.-]+\.txt)`", index))
    assert {"WordNet-3.0.txt", "PDDL-1.0.txt", "Apache-2.0.txt", "CC0-1.0.txt"} <= named
    for name in named:
        assert (LICENSES / name).stat().st_size > 300, name
    assert "Princeton University" in (LICENSES / "WordNet-3.0.txt").read_text("utf-8")

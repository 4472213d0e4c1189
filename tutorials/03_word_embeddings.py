# %% [markdown]
# # 03 — Word embeddings
#
# A network cannot read words; it reads numbers. The simplest encoding gives
# each of V words a **one-hot** vector of length V. Multiplying a one-hot
# vector by a matrix `E` (V × D) just picks out one row of `E` — so an
# *embedding layer* is a dense layer without bias or activation, applied to
# one-hot inputs, implemented as a table lookup. Trained well, the rows place
# words with similar uses close together.
#
# In this tutorial we:
# 1. check that lookup = one-hot @ table (and what its gradient is);
# 2. load pretrained GloVe vectors (bundled with tinynlp) and ask for
#    neighbours and analogies;
# 3. train our own word2vec on the Brown corpus and compare;
# 4. project some words to 2-D with PCA and save the plot.

# %%
import os
import time
from pathlib import Path

import numpy as np

import tinynlp as tn
from tinynlp import functional as F

QUICK = os.environ.get("TINYNLP_QUICK") == "1"
# Figures (and any file a tutorial writes) go to one git-ignored folder,
# tutorials/output/ (or $TINYNLP_TUTORIAL_OUT), never the current directory; opened
# as a notebook, the figures also show under their cells.
OUT = Path(os.environ.get("TINYNLP_TUTORIAL_OUT")
           or (Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd())
           / "output")
tn.random.seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## Lookup is a matrix product with one-hot vectors
#
# `F.embedding_reference` literally builds the one-hot matrix and multiplies;
# `F.embedding` indexes the table. The gradient with respect to the table is a
# **scatter-add**: row `i` of `∂L/∂E` is the sum of the output gradients at
# every position where word `i` appears (so a repeated word gets gradient from
# each occurrence, and an absent word gets none).

# %%
V, D = 6, 3
table = tn.tensor(rng.standard_normal((V, D)), requires_grad=True)
ids = np.array([[1, 4, 1], [0, 5, 2]])           # word 1 appears twice
out_fast = F.embedding(ids, table)
out_ref = F.embedding_reference(ids, table)
print("output shape", out_fast.shape, " max |fast - one-hot @ E| =",
      float(np.abs(out_fast.data - out_ref.data).max()))
assert np.allclose(out_fast.data, out_ref.data)

g = rng.standard_normal(out_fast.shape)
out_fast.backward(tn.tensor(g))
print("gradient row of word 1 (appears twice):", table.grad[1])
print("sum of the two output gradients:       ", g[0, 0] + g[0, 2])
print("gradient row of word 3 (absent):       ", table.grad[3])
assert np.allclose(table.grad[1], g[0, 0] + g[0, 2]) and not table.grad[3].any()

# %% [markdown]
# ## Pretrained GloVe
#
# tinynlp bundles 33,155 words of GloVe 6B (trained on Wikipedia + Gigaword,
# 50 dimensions): the 20,000 most frequent, plus the words of the bundled
# tasks' training data (so that, e.g., *unfunny* and *riveting* from the
# movie reviews have a vector). `load_glove_6b_50d()` returns
# `KeyedVectors`: a vocabulary plus a matrix, with cosine-similarity queries.
#
# Cosine similarity: `cos(u, v) = u·v / (‖u‖ ‖v‖)`, 1 for the same direction,
# 0 for orthogonal.

# %%
glove = tn.embeddings.load_glove_6b_50d()
print(glove)
for word in ["king", "computer", "france", "happy"]:
    neighbours = glove.most_similar(word, topn=5)
    print(f"{word:9s} ->", ", ".join(f"{w} ({s:.2f})" for w, s in neighbours))

u, v = glove["cat"], glove["dog"]
cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
print(f"cos(cat, dog) by hand {cos:.4f}, by KeyedVectors {glove.similarity('cat', 'dog'):.4f}")
assert abs(cos - glove.similarity("cat", "dog")) < 1e-5

# %% [markdown]
# ## Analogies
#
# "man is to king as woman is to ?" is answered by the word whose vector is
# closest to `king − man + woman` (excluding the three query words). This is
# called 3CosAdd.

# %%
for a, b, c in [("man", "king", "woman"), ("france", "paris", "italy"),
                ("good", "better", "bad"), ("walk", "walked", "swim")]:
    print(f"{a} : {b} :: {c} : {glove.analogy(a, b, c)}")

# %% [markdown]
# On the standard Google analogy set (19,544 questions, of which those whose
# four words are all in our 33,155-word vocabulary are answered), and on
# WordSim-353 (Spearman correlation between cosine similarity and human
# similarity judgements):

# %%
glove_analogy = tn.embeddings.evaluate_analogies(glove)
glove_ws = tn.embeddings.evaluate_similarity(glove, "wordsim353")
print(f"GloVe 6B 50d: analogy accuracy {glove_analogy.accuracy:.3f} "
      f"on {glove_analogy.answered} answered questions; "
      f"WordSim-353 Spearman {glove_ws.spearman:.3f} ({glove_ws.pairs} pairs)")

# %% [markdown]
# ## Training word2vec on the Brown corpus
#
# Skip-gram with negative sampling (Mikolov et al., 2013): for each word `w`
# and each context word `c` within a window, push `σ(v_w · u_c)` towards 1,
# and for a few randomly drawn "negative" words `n` push `σ(v_w · u_n)`
# towards 0. Words that occur in similar contexts end up with similar `v`.
#
# The Brown corpus has about one million words — 6,000 times fewer than
# GloVe's training text — so expect far weaker vectors; it is still enough to
# see the idea work.

# %%
brown_train, brown_test = tn.datasets.load_brown_text(lower=True)
sentences = brown_train + brown_test
if QUICK:
    sentences = sentences[:15000]
n_tokens = sum(len(s) for s in sentences)
print(f"{len(sentences)} sentences, {n_tokens} tokens")

start = time.perf_counter()
w2v = tn.embeddings.Word2Vec(sentences, vector_size=50, window=5, min_count=5, sg=1,
                             negative=5, epochs=3 if QUICK else 10,
                             alpha=0.05 if QUICK else 0.025, seed=0, workers=2)
print(f"trained in {time.perf_counter() - start:.1f} s; vocabulary {len(w2v.wv)} words")

for word in ["money", "church", "president", "water"]:
    if word in w2v.wv:
        print(f"{word:9s} ->", ", ".join(f"{w} ({s:.2f})"
                                        for w, s in w2v.wv.most_similar(word, topn=5)))

brown_analogy = tn.embeddings.evaluate_analogies(w2v.wv)
brown_ws = tn.embeddings.evaluate_similarity(w2v.wv, "wordsim353")
print(f"word2vec on Brown: analogy accuracy {brown_analogy.accuracy:.3f} "
      f"on {brown_analogy.answered} answered; WordSim-353 Spearman {brown_ws.spearman:.3f} "
      f"({brown_ws.pairs} pairs)")

# %% [markdown]
# In full mode (the whole corpus, 10 epochs) the model clearly learns
# *something* — compare random vectors below, which score ≈ 0 — while in quick
# mode (a quarter of the corpus, 3 epochs) the vectors are only half-trained
# and the neighbours are mostly noise. Either way, a corpus of a million words is far
# too small to match vectors trained on six billion. That is why we usually
# start from pretrained vectors (tutorial 06 shows how to put them into an
# `Embedding` layer).

# %%
random_kv = tn.embeddings.KeyedVectors(list(w2v.wv.index_to_key),
                                       rng.standard_normal((len(w2v.wv), 50)).astype(np.float32))
random_ws = tn.embeddings.evaluate_similarity(random_kv, "wordsim353")
print(f"random vectors, same vocabulary: WordSim-353 Spearman {random_ws.spearman:.3f}")
if not QUICK:
    assert brown_ws.spearman > random_ws.spearman + 0.1

# %% [markdown]
# ## A 2-D picture: PCA
#
# 50 dimensions are hard to look at. PCA finds the two orthogonal directions
# along which the chosen vectors vary most: centre the vectors, take the SVD
# `X = U S Vᵀ`, and project on the first two rows of `Vᵀ`.

# %%
groups = {
    "countries": ["france", "germany", "italy", "spain", "china", "japan"],
    "capitals": ["paris", "berlin", "rome", "madrid", "beijing", "tokyo"],
    "animals": ["cat", "dog", "horse", "cow", "lion", "tiger"],
    "numbers": ["one", "two", "three", "four", "five", "six"],
}
words = [w for ws in groups.values() for w in ws]
M = np.stack([glove[w] for w in words]).astype(np.float64)
Mc = M - M.mean(axis=0)
_, S, Vt = np.linalg.svd(Mc, full_matrices=False)
P = Mc @ Vt[:2].T
explained = S[:2] ** 2 / (S ** 2).sum()
print(f"the two components explain {explained.sum():.1%} of the variance")

# `tn.plot.embedding_projection` draws it (same PCA: its points are exactly `P`);
# `method="tsne"` would use scikit-learn's t-SNE instead.
fig = tn.plot.embedding_projection(glove, groups=groups, title="GloVe 6B 50d, PCA to 2-D",
                                   arrows=zip(groups["countries"], groups["capitals"]))
drawn = np.concatenate([points.get_offsets() for points in fig.axes[0].collections])
assert np.allclose(drawn, P)
print("saved", tn.plot.save(fig, OUT / "03_glove_pca.png"))

# %% [markdown]
# The four groups form separate clusters, and the country → capital arrows
# point roughly the same way: the "capital of" relation is (approximately) a
# constant offset, which is exactly why `paris − france + italy ≈ rome` works.
# Next: recurrent networks, which read these vectors one word at a time.

"""Word embeddings: KeyedVectors (GloVe / word2vec formats), Word2Vec and GloVe
trainers, bundled GloVe 6B 50d vectors and similarity / analogy evaluation.

    kv = tn.embeddings.load_glove_6b_50d()
    kv.most_similar("king")
    model = tn.embeddings.Word2Vec(sentences, vector_size=100, sg=1)
"""

from .evaluation import (
    AnalogyResult,
    SimilarityResult,
    evaluate_analogies,
    evaluate_similarity,
    pearson,
    rankdata,
    spearman,
)
from .glove import GloVe
from .keyedvectors import EmbeddingFormatError, KeyedVectors
from .pretrained import load_glove_6b_50d
from .word2vec import Word2Vec

__all__ = [
    "AnalogyResult",
    "EmbeddingFormatError",
    "GloVe",
    "KeyedVectors",
    "SimilarityResult",
    "Word2Vec",
    "evaluate_analogies",
    "evaluate_similarity",
    "load_glove_6b_50d",
    "pearson",
    "rankdata",
    "spearman",
]

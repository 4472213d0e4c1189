"""Text preprocessing: tokenizers (word, char, byte-level BPE), ``Vocab``,
``pad_sequences`` and EDA augmentation.

    from tinynlp.text import Tokenizer, pad_sequences
    tok = Tokenizer(num_words=10_000, oov_token="<OOV>")
    tok.fit_on_texts(x_train)
    x = pad_sequences(tok.texts_to_sequences(x_train), maxlen=100)   # Keras semantics

    bpe = BPETokenizer.train(tn.datasets.load_pretraining_corpus(), vocab_size=4096)
    ids = bpe.encode("any text at all 😀"); bpe.decode(ids)           # exact round trip
"""

from .augment import (
    EDA,
    NEGATIONS,
    WordNetSynonyms,
    augment_minority,
    random_deletion,
    random_insertion,
    random_swap,
    synonym_replacement,
    wordnet_synonyms,
)
from .bpe import BPETokenizer
from .sequence import pad_sequences
from .tokenizer import (
    Tokenizer,
    TokenizerFormatError,
    char_tokenize,
    text_to_word_sequence,
    word_tokenize,
)
from .vocab import PAD, UNK, Vocab

__all__ = [
    "Tokenizer", "BPETokenizer", "TokenizerFormatError", "Vocab", "pad_sequences", "word_tokenize", "char_tokenize",
    "text_to_word_sequence", "PAD", "UNK",
    "EDA", "augment_minority", "synonym_replacement", "random_insertion", "random_swap",
    "random_deletion", "wordnet_synonyms", "WordNetSynonyms", "NEGATIONS",
]

"""Weights of the English → Japanese bridge, on one scale: 1.0 is "the question literally contains
this term". Chosen on the dev questions (README, "English over Japanese text")."""

W_LITERAL = 1.0  # Latin word / number / Japanese text present in the question
W_SUDACHI_KANA = 0.8  # Sudachi's katakana normalisation of an English word (Nokia -> ノキア)
W_E2K_EXACT = 0.9  # e2k rendering equal to a vocabulary term (after kana normalisation)
W_E2K_NEAR = 0.6  # ... one edit away
W_PHONETIC = 0.7  # a vocabulary term that sounds like the word (names.py), times its closeness 0.5-1
W_PHONETIC_SPLIT = 0.5  # ... two vocabulary terms that together sound like it (a split name)
W_NAME = 0.9  # JMnedict name gloss (katakana vocabulary terms only)
W_GLOSS = 0.8  # JMdict single-word gloss in the first sense
W_PHRASE = 0.8  # JMdict multi-word gloss matched as a whole phrase
W_PHRASE_HEAD = 0.45  # the head word of a multi-word gloss ("drop" of "sudden drop")
W_PHRASE_WORD = 0.2  # another content word of it ("sudden")
W_SYNONYM = 0.5  # factor for a target reached through a JMdict co-gloss (see _build_gloss_index)
SYN_MIN_COUNT = 2  # senses two English words must share to count as synonyms
W_INFLECTED = 0.9  # factor when the question word had to be lemmatised to match
SENSE_DECAY = 0.75  # per later sense: the first senses are the usual meanings
SENSE_FLOOR = 0.3
GLOSS_POSITION = 0.08  # weight factor 1 / (1 + 0.08 * position of the gloss within its sense)
UNCOMMON = 0.6  # factor for JMdict entries without a frequency/priority tag
KANA_ONLY = 0.6  # hiragana term matched through a kana reading: homophones are likely
PHRASE_CONSUMED = 0.6  # factor for a word's own translations when it is part of a matched phrase
W_DERIVED = 0.7  # factor for a derivational relative ("bankrupt" -> "bankruptcy")
MAX_TARGETS = 12  # vocabulary terms kept per English key (a large vocabulary may want more)
MIN_WEIGHT = 0.05

"""What the converted small model is: multilingual-e5-small's dimension, sequence length and
prompts, and the mixed ja/en texts every conversion and export is checked on."""

from __future__ import annotations

EMBED_DIM = 384
MAX_SEQ_LENGTH = 512
PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: "}
# sentence-transformers 6 adds a "document" prompt (default "") and encode_document() prefers it
# over "passage", so it must carry the passage prefix too or e5 documents lose their prefix.
SAVED_PROMPTS: dict[str, str] = {**PROMPTS, "document": PROMPTS["passage"]}

# Mixed texts for numeric comparisons (engine vs torch, ONNX vs torch).  They include full-width
# characters, a wave dash, newlines and tabs because those exercise the normaliser.
CHECK_TEXTS: tuple[str, ...] = (
    "How much did NVIDIA stock fall?",
    "エヌビディアの株価は17%下落した。",
    "箱根の温泉旅館でゆっくり休んだ。",
    "DeepSeekの発表で半導体株が急落した理由は何ですか",
    "The Stargate joint venture plans $500 billion of AI infrastructure investment.",
    "ＡＩバブルのピークはいつ？　専門家の見方",
    "営業時間は10時～18時です。",
    "Meta will spend $65 billion on AI capex in 2025.",
    "東京都の人口は約1400万人で、日本の首都である。",
    "What is the capital of Japan?",
    "改行を含む\n文章\tタブも含む。",
    "ｶﾀｶﾅの半角文字とﾃｽﾄ",
    "Transformers use self-attention to mix information between tokens.",
    "彼は毎朝コーヒーを飲みながら新聞を読む。",
    "Which company announced the largest capital expenditure?",
    "量子コンピュータは特定の問題で古典計算機を上回る可能性がある。",
    "I   like    spaces.",
    "株式市場は金利の変化に敏感に反応する。",
    "The hot spring inn in Hakone was quiet and relaxing.",
    "①②③ と ㈱ と ㍻ の正規化",
)

"""Every fixed string of the web page, in Japanese and English, and how a request picks one.

The page's language comes from, in order: a ``?lang=`` switch (remembered in a cookie), that
cookie, the browser's ``Accept-Language`` (highest q among the languages we have), else English.
Answers follow the question's language whatever the page's language is (the engine decides).
The templates use these strings directly; the scripts receive the same table as JSON.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")
LANG_COOKIE = "kiji_lang"
LANG_NAMES: dict[Lang, str] = {"ja": "日本語", "en": "English"}

STRINGS: dict[str, dict[Lang, str]] = {
    # --- frame ---------------------------------------------------------------------------------
    "skip": {"en": "Skip to the main content", "ja": "本文へ移動"},
    "nav_label": {"en": "Main", "ja": "メイン"},
    "nav_ask": {"en": "Ask", "ja": "質問する"},
    "nav_articles": {"en": "Articles", "ja": "記事一覧"},
    "lang_label": {"en": "Language", "ja": "言語"},
    "tagline": {"en": "Ask about the articles. Every answer quotes them word for word, and kiji says "
                      "so when they don't hold the answer.",
                "ja": "記事について質問してください。回答は記事の原文をそのまま引用し、記事に書かれて"
                      "いないことには答えません。"},
    # --- API key -------------------------------------------------------------------------------
    "key_summary": {"en": "API key", "ja": "APIキー"},
    "key_help": {"en": "This server needs an API key. It is kept in this browser tab only "
                       "(sessionStorage) and sent as “Authorization: Bearer …” with each request.",
                 "ja": "このサーバーではAPIキーが必要です。キーはこのタブの中だけ(sessionStorage)に"
                       "保存され、各リクエストで「Authorization: Bearer …」として送られます。"},
    "key_label": {"en": "API key", "ja": "APIキー"},
    "key_save": {"en": "Use this key", "ja": "このキーを使う"},
    "key_forget": {"en": "Forget the key", "ja": "キーを消去"},
    "key_saved": {"en": "Key saved for this tab.", "ja": "このタブにキーを保存しました。"},
    "key_forgotten": {"en": "Key removed.", "ja": "キーを消去しました。"},
    # --- asking --------------------------------------------------------------------------------
    "title_ask": {"en": "Ask the articles", "ja": "記事に質問する"},
    "question_label": {"en": "Your question (Japanese or English)", "ja": "質問(日本語または英語)"},
    "question_hint": {"en": "Press Enter to ask.", "ja": "Enter キーで質問します。"},
    "question_placeholder": {"en": "How much did NVIDIA fall?", "ja": "DeepSeekの従業員数は?"},
    "ask": {"en": "Ask", "ja": "質問する"},
    "asking": {"en": "Searching the articles…", "ja": "記事を検索しています…"},
    "empty_question": {"en": "Type a question first.", "ja": "質問を入力してください。"},
    "answer_heading": {"en": "Answer", "ja": "回答"},
    "quotes_heading": {"en": "Quotes from the articles", "ja": "記事からの引用"},
    "extractive_lead": {"en": "The articles answer in their own words: the quotes below, from {titles}.",
                        "ja": "記事の記述そのものが答えです。下の引用をご覧ください(出典: {titles})。"},
    "title_quoted": {"en": "“{title}”", "ja": "「{title}」"},
    "title_separator": {"en": ", ", "ja": "、"},
    "quotes_help": {"en": "Open a quote to read it highlighted in its article.",
                    "ja": "引用を開くと、記事の中で該当箇所が強調表示されます。"},
    "sources_differ": {"en": "Sources differ: the quoted articles give different figures. Check each quote.",
                       "ja": "出典によって数字が異なります。それぞれの引用を確認してください。"},
    "declined_heading": {"en": "Not in the articles", "ja": "記事には書かれていません"},
    "declined_text": {"en": "The articles don't answer this question, so kiji gives no answer rather "
                            "than guess.",
                      "ja": "この質問に答える記述は記事の中にありません。推測で答えることはしません。"},
    "related_heading": {"en": "Nearby passages (they may not answer the question)",
                        "ja": "近い箇所(質問の答えではない可能性があります)"},
    "also_relevant_heading": {"en": "Also relevant", "ja": "関連する記述"},
    "details": {"en": "Details", "ja": "詳細"},
    "examples_heading": {"en": "Questions the articles answer", "ja": "記事が答えられる質問の例"},
    "recent_heading": {"en": "Your recent questions", "ja": "最近の質問"},
    "articles_heading": {"en": "The articles", "ja": "記事"},
    "copy_quote": {"en": "Copy with citation", "ja": "出典付きでコピー"},
    "copy_format": {"en": "“{text}” — {title}, {link}", "ja": "「{text}」(出典: {title} {link})"},
    "copied": {"en": "Copied the quote with its citation.", "ja": "引用を出典付きでコピーしました。"},
    "copy_failed": {"en": "The browser did not allow copying.", "ja": "ブラウザーがコピーを許可しませんでした。"},
    "glosses_label": {"en": "Key terms:", "ja": "主な語句:"},
    "score": {"en": "score {score}", "ja": "スコア {score}"},
    "location": {"en": "chars {start}–{end}", "ja": "{start}〜{end}文字目"},
    "original": {"en": "open the original", "ja": "元のページを開く"},
    "permalink": {"en": "Link to this question", "ja": "この質問へのリンク"},
    "answer_meta": {"en": "index {version} · {ms} ms", "ja": "インデックス {version} · {ms} ms"},
    # --- feedback ------------------------------------------------------------------------------
    "feedback_label": {"en": "Was this answer helpful?", "ja": "この回答は役に立ちましたか?"},
    "vote_up": {"en": "Helpful", "ja": "役に立った"},
    "vote_down": {"en": "Not helpful", "ja": "役に立たなかった"},
    "vote_saved": {"en": "Thanks for the feedback!", "ja": "フィードバックありがとうございます!"},
    "vote_replaced": {"en": "Your vote was updated.", "ja": "評価を更新しました。"},
    "vote_failed": {"en": "Your vote could not be saved: {message}", "ja": "評価を保存できませんでした: {message}"},
    # --- errors --------------------------------------------------------------------------------
    "error": {"en": "Something went wrong: {message}", "ja": "エラーが発生しました: {message}"},
    "need_key": {"en": "This server needs an API key: enter it under “API key”, then try again.",
                 "ja": "このサーバーではAPIキーが必要です。「APIキー」に入力してから、もう一度お試しください。"},
    "bad_key": {"en": "The API key was not accepted: check it under “API key”.",
                "ja": "APIキーが受け付けられませんでした。「APIキー」を確認してください。"},
    "rate_limited": {"en": "Too many requests: try again in {seconds} s.",
                     "ja": "リクエストが多すぎます。{seconds} 秒後にもう一度お試しください。"},
    "network": {"en": "The server could not be reached.", "ja": "サーバーに接続できませんでした。"},
    "loading": {"en": "Loading…", "ja": "読み込み中…"},
    # --- articles ------------------------------------------------------------------------------
    "title_articles": {"en": "Articles", "ja": "記事一覧"},
    "articles_count": {"en": "{count} articles in index {version}", "ja": "記事 {count} 件(インデックス {version})"},
    "article_meta": {"en": "{chars} characters · {chunks} chunks", "ja": "{chars} 文字 · {chunks} チャンク"},
    "no_articles": {"en": "The index holds no articles yet.", "ja": "インデックスにはまだ記事がありません。"},
    # --- reader --------------------------------------------------------------------------------
    "title_reader": {"en": "Article", "ja": "記事"},
    "back_to_answer": {"en": "Back to the answer", "ja": "回答に戻る"},
    "all_articles": {"en": "All articles", "ja": "記事一覧"},
    "quoted_here": {"en": "The quoted passage is highlighted below.", "ja": "引用箇所を下で強調表示しています。"},
    "span_missing": {"en": "The linked passage (chars {start}–{end}) is not in this article as indexed "
                           "now; the article may have changed since the link was made.",
                     "ja": "リンク先の箇所({start}〜{end}文字目)は現在のインデックスのこの記事にありません。"
                           "リンク作成後に記事が変更された可能性があります。"},
    "chunks_heading": {"en": "Chunks ({count})", "ja": "チャンク({count})"},
    "chunks_help": {"en": "The passages kiji searches; open one to highlight it.",
                    "ja": "kiji が検索する単位です。開くと該当箇所を強調表示します。"},
    "not_found": {"en": "There is no article with this id.", "ja": "この ID の記事はありません。"},
    "published": {"en": "published {date}", "ja": "公開 {date}"},
}


def strings_for(lang: Lang) -> dict[str, str]:
    return {key: texts[lang] for key, texts in STRINGS.items()}


#: The strings of an answer's own line, which follows the question's language, not the page's.
ANSWER_KEYS = ("extractive_lead", "title_quoted", "title_separator")


def answer_strings() -> dict[str, dict[str, str]]:
    return {lang: {key: STRINGS[key][lang] for key in ANSWER_KEYS} for lang in LANGS}


def _parse_accept_language(header: str) -> list[tuple[float, int, str]]:
    ranked = []
    for position, part in enumerate(header.split(",")[:32]):  # a long header is not our problem
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary:
            ranked.append((quality, -position, primary))
    return sorted(ranked, reverse=True)


def choose_lang(switch: str | None, cookie: str | None, accept_language: str | None) -> Lang:
    """The page language for a request (see the module docstring for the order)."""
    for explicit in (switch, cookie):
        if explicit in LANGS:
            return explicit
    for quality, _, primary in _parse_accept_language(accept_language or ""):
        if quality <= 0:
            continue
        if primary in LANGS:
            return primary
    return "en"

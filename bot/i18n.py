"""Every fixed string the bot shows, in Japanese and English.

The interaction locale picks the language of these strings (``ja`` → Japanese, anything else →
English). The answer itself follows the question's language, which the engine decides.
Command descriptions are localized for Discord's UI through ``KijiTranslator``.
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands

from kiji.retrieval.answer.compose import NOT_FOUND

Lang = Literal["ja", "en"]


def lang_of(locale: discord.Locale | str | None) -> Lang:
    """Japanese for any ``ja`` locale, English otherwise (Discord has one Japanese locale, ``ja``)."""
    value = locale.value if isinstance(locale, discord.Locale) else (locale or "")
    return "ja" if value.lower().startswith("ja") else "en"


STRINGS: dict[str, dict[Lang, str]] = {
    # --- answers -------------------------------------------------------------------------------
    # The engine already words "not covered" in both languages; one text, not two copies.
    "not_covered": dict(NOT_FOUND),
    "related": {"en": "Closest passages — they may not answer the question:",
                "ja": "関連しそうな箇所(質問に答えているとは限りません):"},
    "location": {"en": "chars {start}–{end}", "ja": "{start}〜{end}文字目"},
    # The embed's description names where the answer is; the fields below carry the quotes.
    "found_in_one": {"en": "Found in “{title}” {refs}.", "ja": "記事「{title}」{refs}に書かれています。"},
    "found_in_many": {"en": "Found in {count} articles: {items}.", "ja": "{count}件の記事に書かれています: {items}"},
    "found_item": {"en": "“{title}” {refs}", "ja": "「{title}」{refs}"},
    "found_joiner": {"en": ", ", "ja": "、"},
    "sources_differ": {"en": "Note that the sources give different figures.",
                       "ja": "なお、記事によって数字が異なります。"},
    "reader_link": {"en": "Read it in the article", "ja": "記事の中で読む"},
    "original_link": {"en": "Open the original", "ja": "元のページで開く"},
    "also_relevant": {"en": "also relevant", "ja": "関連"},
    "same_article": {"en": "(same article)", "ja": "(同じ記事)"},
    # --- answers written by a language model (only when one is configured) ---------------------
    "writing": {"en": "Writing the answer from these quotes… (not yet checked)",
                "ja": "引用をもとに回答を作成中…(未検証)"},
    "generated_note": {"en": "written by a language model, checked against the quotes",
                       "ja": "言語モデルが作成し、引用と照合済み"},
    "fallback_note": {"en": "the model's answer could not be verified, so the quotes speak for themselves",
                      "ja": "モデルの回答を検証できなかったため、引用をそのまま示しています"},
    "more_title": {"en": "More sources", "ja": "その他の出典"},
    "no_more": {"en": "There are no more sources for this question.",
                "ja": "この質問について、これ以上の出典はありません。"},
    "expired": {
        "en": "I no longer have this answer in memory (the bot may have restarted). Please ask again with /ask.",
        "ja": "この回答はもう保持していません(ボットが再起動した可能性があります)。/ask でもう一度質問してください。",
    },
    # --- buttons -------------------------------------------------------------------------------
    "button_more": {"en": "More sources", "ja": "その他の出典"},
    "button_prev": {"en": "Previous", "ja": "前へ"},
    "button_next": {"en": "Next", "ja": "次へ"},
    "vote_saved": {"en": "Thanks for the feedback!", "ja": "フィードバックありがとうございます!"},
    "vote_replaced": {"en": "Your vote was updated.", "ja": "評価を更新しました。"},
    # --- /sources ------------------------------------------------------------------------------
    "sources_title": {"en": "Articles in the index", "ja": "インデックス内の記事"},
    "sources_footer": {"en": "{count} articles · page {page}/{pages}",
                       "ja": "記事 {count} 件 · {page}/{pages} ページ"},
    "sources_empty": {"en": "The index holds no articles yet.", "ja": "インデックスにはまだ記事がありません。"},
    # --- /help ---------------------------------------------------------------------------------
    "help_title": {"en": "kiji — answers from the articles", "ja": "kiji — 記事にもとづいて答えます"},
    "help_body": {
        "en": (
            "I answer questions about the articles in my index, in Japanese or English, and quote "
            "the passages word for word so you can check them.\n\n"
            "**/ask** `question` — ask anything, e.g. `/ask question: How much did NVIDIA fall?`\n"
            "• `quotes` (1–5): how many quotes to show\n"
            "• `article`: search one article only (pick its title as you type)\n"
            "• `public`: show the answer to the channel (only you see it otherwise)\n"
            "**/sources** — the articles I can quote\n"
            "**/help** — this message\n"
            "**Ask kiji about this message** — in a message's Apps menu: its text as the question\n\n"
            "Under an answer, **More sources** shows further quotes and 👍/👎 tell the maintainers "
            "whether it helped. If the articles don't cover a question, I say so instead of guessing."
        ),
        "ja": (
            "インデックス内の記事について、日本語または英語の質問に答えます。根拠となる箇所を"
            "原文のまま引用するので、内容を確かめられます。\n\n"
            "**/ask** `question` — 質問します。例: `/ask question: NVIDIAの株価はどれくらい下落しましたか?`\n"
            "• `quotes`(1〜5): 表示する引用の数\n"
            "• `article`: 1つの記事だけを検索します(入力するとタイトルを選べます)\n"
            "• `public`: チャンネル全体に回答を表示します(既定ではあなたにだけ表示)\n"
            "**/sources** — 引用できる記事の一覧\n"
            "**/help** — このヘルプ\n"
            "**kijiにこのメッセージについて聞く** — メッセージの「アプリ」メニューから: その本文を質問にします\n\n"
            "回答の下の **その他の出典** で追加の引用を表示し、👍/👎 で回答が役に立ったかを"
            "伝えられます。記事に書かれていないことは、推測せずにそう答えます。"
        ),
    },
    # --- errors --------------------------------------------------------------------------------
    "cooldown": {"en": "Please wait {seconds} s before asking again.",
                 "ja": "次の質問まで {seconds} 秒お待ちください。"},
    "unknown_article": {"en": "No article has that title: pick one from the list as you type.",
                        "ja": "そのタイトルの記事はありません。入力中に表示される一覧から選んでください。"},
    "quotes_range": {"en": "quotes must be a whole number from 1 to {max}.",
                     "ja": "quotes には 1 から {max} までの整数を指定してください。"},
    "empty_question": {"en": "The question is empty.", "ja": "質問が空です。"},
    "too_long": {"en": "The question is too long ({length} characters; at most {max}).",
                 "ja": "質問が長すぎます({length} 文字。上限は {max} 文字です)。"},
    "invalid_input": {"en": "I can't answer that as asked: {detail}",
                      "ja": "この質問は処理できません: {detail}"},
    "index_unavailable": {
        "en": "The article index is not available right now. Please try again later.",
        "ja": "現在、記事のインデックスを利用できません。しばらくしてからもう一度お試しください。",
    },
    "apology": {
        "en": "Sorry, something went wrong while handling that. Please try again.",
        "ja": "申し訳ありません。処理中にエラーが発生しました。もう一度お試しください。",
    },
}

#: Japanese descriptions for the command UI; the English text is the source string itself.
COMMAND_JA: dict[str, str] = {
    "ask.description": "記事にもとづいて質問に答えます(原文の引用つき)",
    "ask.question": "質問(日本語または英語)",
    "ask.quotes": "表示する引用の数(1〜5、既定は3)",
    "ask_message.name": "kijiにこのメッセージについて聞く",
    "ask.article": "この記事だけを検索する(入力してタイトルを選択)",
    "ask.public": "チャンネル全体に回答を表示する",
    "sources.description": "インデックス内の記事の一覧",
    "sources.page": "ページ番号",
    "help.description": "このボットの使い方",
}


def t(key: str, lang: Lang, **values: object) -> str:
    text = STRINGS[key][lang]
    return text.format(**values) if values else text


def cmd(text: str, key: str) -> app_commands.locale_str:
    """A command/option description with a key the translator can look up."""
    return app_commands.locale_str(text, key=key)


class KijiTranslator(app_commands.Translator):
    """Supplies ``description_localizations`` for Japanese clients when commands are synced."""

    async def translate(self, string: app_commands.locale_str, locale: discord.Locale,
                        context: app_commands.TranslationContextTypes) -> str | None:
        if locale is not discord.Locale.japanese:
            return None
        key = string.extras.get("key")
        return COMMAND_JA.get(key) if isinstance(key, str) else None

"""Fixture pages in the shape of real ones (note.com, Hatena Blog, Qiita, an English news site):
navigation, sidebars, share buttons, comments and recommendations around a hand-marked body. Each
page knows its body paragraphs and the chrome that must not reach the article."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FixturePage:
    name: str
    html: str
    body: tuple[str, ...]
    chrome: tuple[str, ...]


def _page(lang: str, head: str, before: str, title: str, body: tuple[str, ...], after: str,
          canonical: str, wrapper: tuple[str, str] = ("<article>", "</article>"), inside: str = "") -> str:
    """As real blogs do, ``inside`` chrome (share buttons, related posts) sits in the article's own
    container after the body, ``before`` / ``after`` chrome around it."""
    paras = "\n".join(f"<p>{p}</p>" for p in body)
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="canonical" href="{canonical}">{head}</head><body>{before}{wrapper[0]}'
            f"<h1>{title}</h1>{paras}{inside}{wrapper[1]}{after}</body></html>")


NOTE_BODY = (
    "週末に京都の小さな珈琲店を三軒めぐりました。どの店も朝七時に開店し、豆はすべて店内で焙煎しています。",
    "一軒目の店主によると、浅煎りの豆は九十二度のお湯でゆっくり淹れるのがいちばん香りが立つそうです。",
    "三軒目では、焙煎したての豆を二週間以内に使い切るよう勧められました。",
)
NOTE_CHROME = ("ログイン", "会員登録", "スキ", "この記事が気に入ったらサポートをしてみませんか", "おすすめ記事",
               "コメントを書く")
NOTE = FixturePage("note", _page(
    "ja", '<meta name="author" content="珈琲好き">',
    '<header><nav><a href="/">note</a> <a href="/login">ログイン</a> <a href="/signup">会員登録</a></nav></header>',
    "京都の珈琲店めぐり", NOTE_BODY,
    '<section class="recommend"><h2>おすすめ記事</h2><ul><li><a href="/n/1">東京の喫茶店</a></li></ul></section>'
    '<section class="comments"><h2>コメントを書く</h2><p>素敵な記事でした!</p></section>',
    "https://note.example/kohi/n/n123",
    inside='<div class="share"><button>スキ</button><button>シェア</button></div>'
           '<section class="support"><p>この記事が気に入ったらサポートをしてみませんか</p></section>'),
    NOTE_BODY, NOTE_CHROME)

HATENA_BODY = (
    "今年の夏は北海道をバイクで一周しました。走行距離は全部で二千四百キロになりました。",
    "いちばん印象に残ったのは、知床峠から見た羅臼岳の朝焼けです。",
    "宿はすべてライダーハウスで、一泊の料金は千円から二千円でした。",
)
HATENA_CHROME = ("読者になる", "はてなブックマーク", "プロフィール", "最新記事", "関連記事", "コメントを書く")
HATENA = FixturePage("hatena", _page(
    "ja", "",
    '<div id="globalheader"><a href="/">はてなブログ</a> <a>読者になる</a></div>',
    "北海道一周ツーリング", HATENA_BODY,
    '<aside id="box2"><div class="hatena-module-profile"><h3>プロフィール</h3><p>旅好きのエンジニア</p></div>'
    '<div class="hatena-module-recent-entries"><h3>最新記事</h3><ul><li>キャンプ道具</li></ul></div></aside>',
    "https://hatena.example/entry/2025/08/01/hokkaido",
    ('<div id="main"><article class="entry"><div class="entry-content">', "</article></div>"),
    inside='</div><footer class="entry-footer"><div class="social-buttons"><a>はてなブックマーク</a>'
           '<a>ツイート</a></div><div class="related-entries"><h3>関連記事</h3><a>九州ツーリング</a></div>'
           '<div class="comment-box"><a>コメントを書く</a></div></footer>'),
    HATENA_BODY, HATENA_CHROME)

QIITA_BODY = (
    "PythonのasyncioでHTTPリクエストを並列に送る方法をまとめます。",
    "まずaiohttpのClientSessionを一つだけ作り、すべてのリクエストで使い回します。",
    "同時接続数はasyncio.Semaphoreで十に制限すると、相手のサーバーに負担をかけません。",
)
QIITA_CHROME = ("LGTM", "ストック", "トレンド", "この記事は以下の記事からリンクされています", "Qiita Conference")
QIITA = FixturePage("qiita", _page(
    "ja", "",
    '<header><nav><a>Qiita</a><a>トレンド</a><a>Qiita Conference</a></nav></header>',
    "asyncioでHTTPリクエストを並列に送る", QIITA_BODY, "",
    "https://qiita.example/user/items/abc123",
    ('<main><div class="it-MdContent">', "</main>"),
    inside='</div><div class="likes"><button>LGTM</button><span>42</span><button>ストック</button></div>'
           '<section class="linked"><h2>この記事は以下の記事からリンクされています</h2><a>非同期処理入門</a>'
           '</section>'), QIITA_BODY, QIITA_CHROME)

NEWS_BODY = (
    "The city council voted on Tuesday to extend the night bus service to all twelve districts.",
    "The new routes start in March and will run every twenty minutes between midnight and five.",
    "Officials estimate the extension will cost 3.2 million dollars a year.",
)
NEWS_CHROME = ("Subscribe", "Most read", "Sign in", "Share on Facebook", "Advertisement", "Related stories")
NEWS = FixturePage("news", _page(
    "en", '<meta name="author" content="Jane Doe"><meta property="article:published_time" '
          'content="2025-02-03T08:00:00Z">',
    '<header><nav><a>Sign in</a> <a>Subscribe</a> <a>World</a> <a>Business</a></nav></header>'
    '<div class="ad">Advertisement</div>',
    "Night buses to reach every district", NEWS_BODY,
    '<aside><h2>Most read</h2><ol><li>Stocks fall</li><li>Storm warning</li></ol></aside>',
    "https://news.example/city/night-buses",
    inside='<div class="share"><a>Share on Facebook</a><a>Share on X</a></div>'
           '<section class="related"><h2>Related stories</h2><a>Trams return</a></section>'),
    NEWS_BODY, NEWS_CHROME)

PAGES = (NOTE, HATENA, QIITA, NEWS)

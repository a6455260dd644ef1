/* kiji web page, the article list and the reader (a quote's span highlighted in its article). */
"use strict";
(function () {
  const { config, t, el, httpUrl, api, describeError, codePointLength, sliceCodePoints } = window.kiji;
  const status = document.getElementById("status");

  async function loadList() {
    const list = document.getElementById("article-list");
    try {
      const data = await api("/v1/articles");
      list.replaceChildren(...data.articles.map((a) => el("li", {},
        el("a", { href: "/articles/" + encodeURIComponent(a.id), text: a.title }),
        el("br"),
        el("span", { class: "meta", text: t("article_meta", { chars: a.chars, chunks: a.chunks }) }))));
      status.textContent = data.articles.length
        ? t("articles_count", { count: data.articles.length, version: data.index_version })
        : t("no_articles");
    } catch (err) {
      status.textContent = describeError(err);
    }
  }

  /** start/end from the URL: null when absent, NaN parts when not whole numbers. */
  function requestedSpan(params) {
    if (!params.has("start") && !params.has("end")) return null;
    const number = (v) => (v !== null && /^[0-9]{1,10}$/.test(v) ? Number(v) : NaN);
    return { start: number(params.get("start")), end: number(params.get("end")),
             label: [params.get("start") || "?", params.get("end") || "?"] };
  }

  async function fetchArticle(id) {
    const path = "/v1/articles/" + encodeURIComponent(id);
    // Text and chunks must come from one index version; a reload may land between the two calls.
    for (let attempt = 0; ; attempt++) {
      const [article, chunks] = await Promise.all([api(path), api(path + "/chunks")]);
      if (article.index_version === chunks.index_version || attempt >= 2) return [article, chunks];
    }
  }

  /** (from, to) -> the text between code points from and to, less the ``hidden`` spans. */
  function visiblePart(text, hidden) {
    const points = Array.from(text);
    return (from, to) => {
      let out = "", pos = from;
      for (const [start, end] of hidden) {
        if (end <= pos || start >= to) continue;
        if (start > pos) out += points.slice(pos, start).join("");
        pos = Math.max(pos, end);
      }
      return pos < to ? out + points.slice(pos, to).join("") : out;
    };
  }

  function readerLink(start, end, question) {
    const params = new URLSearchParams({ start, end });
    if (question) params.set("q", question);
    return "?" + params + "#quote";
  }

  async function loadArticle() {
    const params = new URLSearchParams(location.search);
    const question = params.get("q");
    let article, chunks;
    try {
      [article, chunks] = await fetchArticle(config.article_id);
    } catch (err) {
      status.textContent = err.status === 404 ? t("not_found") : describeError(err);
      return;
    }
    document.title = article.title + " · kiji 記事";
    document.getElementById("article-title").textContent = article.title;
    const original = httpUrl(article.url);
    document.getElementById("article-meta").replaceChildren(
      t("article_meta", { chars: article.chars, chunks: article.chunks }),
      article.published ? " · " + t("published", { date: article.published }) : "",
      original ? " · " : "",
      original ? el("a", { href: original, rel: "noopener noreferrer", text: t("original") }) : "");

    const body = document.getElementById("article-text");
    const text = article.text;
    const span = requestedSpan(params);
    const valid = span && Number.isInteger(span.start) && Number.isInteger(span.end) &&
      span.start < span.end && span.end <= codePointLength(text);
    // Page furniture (image lines, "2,088 文字") stays in the text, so offsets match the file, but is
    // not shown: the API lists its spans in ``hidden``.
    const part = visiblePart(text, Array.isArray(article.hidden) ? article.hidden : []);
    const length = codePointLength(text);
    if (valid) {
      const quoted = sliceCodePoints(text, span.start, span.end)[1];
      const mark = el("mark", { id: "quote", tabindex: "-1", text: quoted });
      body.replaceChildren(part(0, span.start), mark, part(span.end, length));
      status.textContent = t("quoted_here");
      mark.scrollIntoView({ block: "center" });
      mark.focus({ preventScroll: true });
    } else {
      body.replaceChildren(part(0, length));
      status.textContent = span ? t("span_missing", { start: span.label[0], end: span.label[1] }) : "";
    }

    const list = document.getElementById("chunk-list");
    list.replaceChildren(...chunks.chunks.map((c) => el("li", {},
      el("a", { href: readerLink(c.start, c.end, question),
                text: "#" + c.chunk_id + " · " + t("location", { start: c.start, end: c.end }) }),
      el("p", { text: c.text }))));
    document.getElementById("chunks-summary").textContent = t("chunks_heading", { count: chunks.chunks.length });
    document.getElementById("chunks").hidden = false;
  }

  const load = config.page === "articles" ? loadList : loadArticle;
  document.addEventListener("kiji:key", load);
  load();
})();

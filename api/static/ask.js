/* kiji web page, the ask page: question box, answer, quotes, feedback. */
"use strict";
(function () {
  const { config, t, el, httpUrl, api, apiKey, describeError, openKeyPanel, syncLangLinks,
          sliceCodePoints } = window.kiji;
  const form = document.getElementById("ask-form");
  const input = document.getElementById("q");
  const status = document.getElementById("status");
  const answer = document.getElementById("answer");
  const details = document.getElementById("details");
  let current = 0; // the latest question asked; answers to earlier ones are dropped

  function readerUrl(quote, question) {
    const params = new URLSearchParams({ start: quote.start, end: quote.end, q: question });
    return "/articles/" + encodeURIComponent(quote.article_id) + "?" + params + "#quote";
  }

  /** The quote's text with what matched the question in <mark>s (``highlights``: code point
   * offsets into the quote, sorted and disjoint, as the API gives them). */
  function markedText(quote) {
    const parts = [];
    let rest = quote.text, done = 0;
    for (const [start, end] of quote.highlights || []) {
      if (start < done || end <= start) continue;
      const [before, marked, after] = sliceCodePoints(rest, start - done, end - done);
      if (before) parts.push(before);
      parts.push(el("mark", { class: "hit", text: marked }));
      rest = after;
      done = end;
    }
    if (rest) parts.push(rest);
    return parts;
  }

  /** "Key terms: 株式 share; stock · 下落 decline", for a quote in the other language. */
  function glossLine(quote, language) {
    if (!quote.glosses || !quote.glosses.length) return null;
    const line = el("p", { class: "glosses" }, el("span", { class: "glosses-label", text: t("glosses_label") }), " ");
    quote.glosses.forEach((g, i) => {
      if (i) line.append(" · ");
      line.append(el("span", { lang: language === "en" ? "ja" : "en", class: "gloss-term", text: g.term }),
                  " " + g.gloss);
    });
    return line;
  }

  /** Copies 「quote」 — title, and the original URL or else the reader link at the quote. */
  function copyButton(quote, question) {
    const button = el("button", { type: "button", class: "secondary copy", text: t("copy_quote") });
    button.addEventListener("click", async () => {
      const link = httpUrl(quote.url) || new URL(readerUrl(quote, question), location.href).href;
      const cited = t("copy_format", { text: quote.text, title: quote.title, link });
      try {
        await navigator.clipboard.writeText(cited);
        status.textContent = t("copied");
      } catch (err) {
        status.textContent = t("copy_failed");
      }
    });
    return button;
  }

  const RECENT = "kiji-recent";
  const RECENT_MAX = 5;

  function recent() {
    try {
      const list = JSON.parse(localStorage.getItem(RECENT) || "[]");
      return Array.isArray(list) ? list.filter((q) => typeof q === "string").slice(0, RECENT_MAX) : [];
    } catch (e) { return []; }
  }

  /** The last few questions, kept in this browser only (localStorage), newest first. */
  function remember(question) {
    const list = [question, ...recent().filter((q) => q !== question)].slice(0, RECENT_MAX);
    try { localStorage.setItem(RECENT, JSON.stringify(list)); } catch (e) { /* not kept */ }
  }

  /** The empty page: questions the articles answer, the last few asked here, and the articles. */
  async function showStart() {
    details.replaceChildren();
    const asked = recent();
    if (asked.length) {
      const list = el("ul", { class: "recent" });
      for (const q of asked) list.append(el("li", {}, el("a", { href: "/?" + new URLSearchParams({ q }), text: q })));
      details.append(el("h2", { text: t("recent_heading") }), list);
    }
    if (config.needs_key && !apiKey()) return;
    try {
      const [examples, listing] = await Promise.all([
        api("/v1/examples?" + new URLSearchParams({ language: config.lang })), api("/v1/articles")]);
      if (input.value.trim()) return; // a question was asked meanwhile
      if (examples.examples.length) {
        details.append(el("h2", { text: t("examples_heading") }), exampleList(examples.examples));
      }
      const list = el("ul", { class: "articles" });
      for (const a of listing.articles) {
        list.append(el("li", {}, el("a", { href: "/articles/" + encodeURIComponent(a.id), text: a.title })));
      }
      details.append(el("h2", { text: t("articles_heading") }), list);
    } catch (err) { /* the start page works without them */ }
  }

  function quoteList(quotes, question, name, language) {
    const list = el("ol", { class: "quotes " + name });
    quotes.forEach((quote, i) => {
      const prefix = name.replace(/ /g, "-");
      const titleId = prefix + "-title-" + i;
      const metaId = prefix + "-meta-" + i;
      const original = httpUrl(quote.source_url) || httpUrl(quote.url);
      list.append(el("li", {},
        el("p", { class: "quote-title", id: titleId, text: quote.title }),
        el("blockquote", {},
          el("a", { class: "quote-link", href: readerUrl(quote, question),
                    "aria-describedby": titleId + " " + metaId }, ...markedText(quote))),
        glossLine(quote, language),
        copyButton(quote, question),
        // Offsets and scores are for whoever checks the ranking: one click away, not in the way.
        el("details", { class: "quote-details" }, el("summary", { text: t("details") }),
        el("p", { class: "quote-meta", id: metaId },
          t("location", { start: quote.start, end: quote.end }) + " · " +
          t("score", { score: Number(quote.score).toFixed(3) }),
          original ? " · " : null,
          original ? el("a", { href: original, rel: "noopener noreferrer", text: t("original") }) : null))));
    });
    return list;
  }

  function voterId() {
    // A random id per browser, so a second vote on the same answer replaces the first. Only its
    // salted hash is stored.
    const name = "kiji-voter";
    let id = null;
    try { id = localStorage.getItem(name); } catch (e) { id = null; }
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      const bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      try { localStorage.setItem(name, id); } catch (e) { /* a new id next time */ }
    }
    return id;
  }

  function feedbackBox(result, question, shown) {
    const note = el("p", { class: "vote-status", role: "status" });
    const box = el("fieldset", { class: "votes" }, el("legend", { text: t("feedback_label") }));
    for (const [vote, emoji] of [["up", "👍"], ["down", "👎"]]) {
      const button = el("button", { type: "button", class: "vote", "data-vote": vote, "aria-pressed": "false" },
        el("span", { "aria-hidden": "true", text: emoji }), " " + t("vote_" + vote));
      button.addEventListener("click", async () => {
        const body = {
          question, vote, voter: voterId(), language: result.language, answered: result.answered,
          index_version: result.index_version,
          quote_ids: shown.map((q) => q.article_id + ":" + q.start + "-" + q.end),
        };
        try {
          const saved = await api("/v1/feedback", { method: "POST", body: JSON.stringify(body) });
          for (const b of box.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
          note.textContent = t(saved.replaced ? "vote_replaced" : "vote_saved");
        } catch (err) {
          note.textContent = t("vote_failed", { message: describeError(err) });
        }
      });
      box.append(button);
    }
    return el("div", {}, box, note);
  }

  /** The answer's own words. A streamed answer (issue 14) would call this with each partial text. */
  function showAnswerText(text) {
    let node = answer.querySelector(".answer-text");
    if (!node) answer.prepend(node = el("p", { class: "answer-text" }));
    node.textContent = text;
  }

  /** The line above the quotes, in the question's language (as Discord and the CLI write it). */
  function extractiveLead(quotes, language) {
    const own = (config.answer_strings || {})[language];
    const tt = (name, values) => own && own[name] !== undefined
      ? own[name].replace(/\{(\w+)\}/g, (whole, key) => (values && key in values ? String(values[key]) : whole))
      : t(name, values);
    const titles = [...new Set(quotes.map((q) => q.title))];
    return tt("extractive_lead", { titles: titles.map((title) => tt("title_quoted", { title })).join(tt("title_separator")) });
  }

  /** Example questions as buttons that ask them. */
  function exampleList(examples) {
    const list = el("ul", { class: "examples" });
    for (const question of examples) {
      const button = el("button", { type: "button", class: "secondary example", text: question });
      button.addEventListener("click", () => { input.value = question; form.requestSubmit(); });
      list.append(el("li", {}, button));
    }
    return list;
  }

  function render(result, question) {
    status.textContent = "";
    answer.replaceChildren();
    details.replaceChildren();
    remember(question);
    if (result.contentless) {
      // "hello": what kiji does and questions it answers, not "Not in the articles" and no votes.
      showAnswerText(result.answer.split("\n")[0]);
      if (result.examples && result.examples.length) {
        answer.append(el("p", { class: "hint", text: t("examples_heading") }), exampleList(result.examples));
      }
      return;
    }
    if (result.answered) {
      // A language model's answer is its own text. An extractive answer's text only repeats the
      // quotes shown right below it, so the page names their sources instead.
      showAnswerText(result.answer_mode === "generated" ? result.answer : extractiveLead(result.quotes, result.language));
      if (result.sources_differ) answer.append(el("p", { class: "notice differ", text: t("sources_differ") }));
    } else {
      answer.append(el("div", { class: "notice declined" },
        el("strong", { text: t("declined_heading") }), el("span", { text: t("declined_text") })));
    }
    const shown = [];
    if (result.quotes.length) {
      // The first quote is the answer; quotes clearly weaker than it (``also_relevant``, by the
      // answer model's source margin) go under their own heading rather than look as sure.
      const sure = result.quotes.filter((q) => !q.also_relevant);
      const weaker = result.quotes.filter((q) => q.also_relevant);
      details.append(el("h2", { text: t("quotes_heading") }), el("p", { class: "hint", text: t("quotes_help") }),
        quoteList(sure, question, "answer", result.language));
      if (weaker.length) {
        details.append(el("h2", { text: t("also_relevant_heading") }),
          quoteList(weaker, question, "answer also-relevant", result.language));
      }
      shown.push(...sure, ...weaker);
    }
    // `related` (the closest passages, sent with declines) is optional in the API response.
    const related = Array.isArray(result.related) ? result.related : [];
    if (related.length) {
      details.append(el("h2", { text: t("related_heading") }), quoteList(related, question, "related", result.language));
      shown.push(...related);
    }
    details.append(el("div", { class: "after" },
      feedbackBox(result, question, shown),
      el("a", { href: "/?" + new URLSearchParams({ q: question }), text: t("permalink") }),
      el("details", { class: "answer-details" }, el("summary", { text: t("details") }),
        el("p", { class: "meta", text: t("answer_meta", { version: result.index_version,
                                                          ms: Math.round(result.took_ms) }) }))));
  }

  function clear(message) {
    status.textContent = message || "";
    answer.replaceChildren();
    details.replaceChildren();
  }

  async function ask(question) {
    const asked = ++current;
    if (!question.trim()) {
      clear(t("empty_question"));
      input.focus();
      return;
    }
    if (config.needs_key && !apiKey()) {
      clear(t("need_key"));
      openKeyPanel();
      return;
    }
    clear(t("asking"));
    try {
      // Streaming answers (a language model, issue 14) plug in here: ask with "stream": true, pass
      // each partial text to showAnswerText() as it arrives, then render() the verified final
      // object exactly as below. Without streaming the final object is all there is.
      const result = await api("/v1/ask", { method: "POST", body: JSON.stringify({ question }) });
      if (asked === current) render(result, question);
    } catch (err) {
      if (asked === current) clear(describeError(err));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value;
    const url = question.trim() ? "/?" + new URLSearchParams({ q: question }) : "/";
    if (location.pathname + location.search !== url) history.pushState(null, "", url);
    syncLangLinks();
    ask(question);
  });
  window.addEventListener("popstate", () => {
    const question = new URLSearchParams(location.search).get("q") || "";
    input.value = question;
    syncLangLinks();
    if (question.trim()) ask(question); else { clear(); showStart(); }
  });
  document.addEventListener("kiji:key", () => { if (input.value.trim()) ask(input.value); else showStart(); });
  // The last few questions, one click away in the box's suggestions too.
  const suggestions = el("datalist", { id: "recent-questions" });
  for (const q of recent()) suggestions.append(el("option", { value: q }));
  form.append(suggestions);
  input.setAttribute("list", "recent-questions");
  if (config.q) ask(config.q); else showStart();
})();

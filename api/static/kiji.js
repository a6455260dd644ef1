/* kiji web page, shared part: strings, the API key, calls to /v1, safe DOM building and offsets.
 * Text from the index or the user is only ever inserted with textContent / Text nodes, never as
 * HTML, and the page's Content-Security-Policy forbids inline script besides. */
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("kiji-config").textContent);
  const strings = config.strings;
  const KEY = "kiji-api-key";

  /** A UI string with {name} placeholders filled in. */
  function t(name, values) {
    return strings[name].replace(/\{(\w+)\}/g, (whole, key) =>
      values && Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole);
  }

  /** createElement with attributes; "text" sets textContent; children may be nodes or strings. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "text") node.textContent = String(value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child); // a string becomes a Text node
    }
    return node;
  }

  /** Only http(s) links from article metadata: a "javascript:" url would run on click. */
  function httpUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  // Quote offsets come from Python, where a string is indexed by code point. JavaScript indexes
  // UTF-16 code units, in which a character outside the BMP (😀, 𠮷) takes two. Walking the
  // string by code point keeps every highlight exactly on the quoted text.
  function isPair(text, i) {
    const c = text.charCodeAt(i);
    return c >= 0xd800 && c <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
  }

  /** The UTF-16 index where code point number `count` starts (or text.length). */
  function utf16Index(text, count, from) {
    let i = from || 0;
    for (let n = 0; n < count && i < text.length; n++) i += isPair(text, i) ? 2 : 1;
    return i;
  }

  function codePointLength(text) {
    let n = 0;
    for (let i = 0; i < text.length; n++) i += isPair(text, i) ? 2 : 1;
    return n;
  }

  /** [before, text[start:end], after] with start and end counted in code points, as Python does. */
  function sliceCodePoints(text, start, end) {
    const a = utf16Index(text, start);
    const b = utf16Index(text, end - start, a);
    return [text.slice(0, a), text.slice(a, b), text.slice(b)];
  }

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  function apiKey() {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  /** JSON from /v1, with the tab's API key as a Bearer token; errors become ApiError. */
  async function api(path, options) {
    const headers = { Accept: "application/json" };
    if (options && options.body) headers["Content-Type"] = "application/json";
    const key = apiKey();
    if (key) headers.Authorization = "Bearer " + key;
    let response;
    try {
      response = await fetch(path, Object.assign({}, options, { headers, credentials: "same-origin" }));
    } catch (e) {
      throw new ApiError(0, "network", t("network"), 0);
    }
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const error = (body && body.error) || {};
      throw new ApiError(response.status, error.code || "http_error",
        error.message || response.statusText, Number(response.headers.get("Retry-After")) || 0);
    }
    return body;
  }

  function openKeyPanel() {
    const panel = document.getElementById("key-panel");
    if (!panel) return;
    panel.open = true;
    document.getElementById("api-key").focus();
  }

  /** What to tell the user about a failed call (and open the key panel when a key is missing). */
  function describeError(err) {
    if (err.status === 401) {
      const had = apiKey() !== "";
      openKeyPanel();
      return t(had ? "bad_key" : "need_key");
    }
    if (err.status === 429) return t("rate_limited", { seconds: err.retryAfter || 1 });
    if (err.status === 0) return t("network");
    return t("error", { message: err.message });
  }

  function initKeyPanel() {
    const form = document.getElementById("key-form");
    if (!form) return;
    const input = document.getElementById("api-key");
    const status = document.getElementById("key-status");
    input.value = apiKey();
    if (!apiKey()) document.getElementById("key-panel").open = true;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      try { sessionStorage.setItem(KEY, value); } catch (e) { /* storage off: nothing to keep */ }
      status.textContent = t("key_saved");
      // Out of the way once given; keyboard users continue at the question box (or the panel).
      const panel = document.getElementById("key-panel");
      panel.open = false;
      (document.getElementById("q") || panel.querySelector("summary")).focus();
      document.dispatchEvent(new CustomEvent("kiji:key"));
    });
    document.getElementById("key-forget").addEventListener("click", () => {
      try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
      input.value = "";
      status.textContent = t("key_forgotten");
    });
  }

  /** After the URL changed in place (a question asked), keep the language links on this URL. */
  function syncLangLinks() {
    for (const link of document.querySelectorAll("nav.langs a[hreflang]")) {
      const params = new URLSearchParams(location.search);
      params.set("lang", link.getAttribute("hreflang"));
      link.setAttribute("href", location.pathname + "?" + params);
    }
  }

  window.kiji = { config, t, el, httpUrl, codePointLength, sliceCodePoints, api, apiKey,
                  describeError, openKeyPanel, syncLangLinks };
  initKeyPanel();
})();

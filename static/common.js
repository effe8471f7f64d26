// Helpers every page uses: DOM building, API errors, server-sent events, names of documents.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function errorMessage(response) {
  try {
    return (await response.json()).error.message;
  } catch {
    return `The server answered HTTP ${response.status}.`;
  }
}

async function api(path, options = {}) {
  const init = { ...options, headers: { ...(options.headers || {}) } };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.status === 204 ? null : response.json();
}

let toastTimer = null;
function toast(message, kind = "") {
  const node = $("toast");
  if (!node) return;
  node.textContent = message;
  node.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.className = "toast"; }, 4000);
}

// Parse a text/event-stream body into {id, event, data} objects as the bytes arrive.
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let id = null;
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) yield { id, event: name, data: JSON.parse(data.join("\n")) };
    }
  }
}

// A document's file name (the last part of its source path or URL).
function fileName(source) {
  if (!source) return "";
  const clean = source.split(/[?#]/)[0].replace(/\/+$/, "");
  try {
    return decodeURIComponent(clean.slice(clean.lastIndexOf("/") + 1)) || source;
  } catch {
    return clean.slice(clean.lastIndexOf("/") + 1) || source;
  }
}

const GENERIC_TITLES = /^(untitled|untitled document|document|microsoft word - .*|title|new document|none|unknown)$/i;

// {title, file}: the title to show and the file name beside it when it says something else.
function documentName(title, source) {
  const file = fileName(source);
  const stem = file.replace(/\.[a-z0-9]+$/i, "").replace(/[-_]+/g, " ").toLowerCase();
  const t = (title || "").trim();
  if (!t || GENERIC_TITLES.test(t)) return { title: file || "Untitled", file: "" };
  if (!file || t.toLowerCase() === stem || t === file) return { title: t, file: "" };
  return { title: t, file };
}

// A snippet people can read: no Markdown pipes, backticks or heading marks, whole words.
function cleanSnippet(text, max = 220) {
  let s = (text || "")
    .replace(/```[a-z]*|`/g, "")
    .replace(/^\s*[#>]+\s*/gm, "")
    .replace(/\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?/g, " ")
    .replace(/\s*\|\s*/g, " · ")
    .replace(/(\*\*|__|\*|_)(\S[^*_]*?)\1/g, "$2")
    .replace(/\s+/g, " ")
    .replace(/^[·\s]+|[·\s]+$/g, "");
  // A snippet cut from the middle of a word starts lowercase: drop the fragment.
  if (/^[a-z]/.test(s) && s.includes(" ")) s = `…${s.slice(s.indexOf(" "))}`;
  if (s.length > max) s = `${s.slice(0, s.lastIndexOf(" ", max))} …`;
  return s;
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

// Small line icons (no icon font: emoji render as boxes where no emoji font is installed).
const ICONS = {
  up: "M7 10v11H3V10zM7 10l4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.4l-1.6 8A2 2 0 0 1 17.9 21H7",
  down: "M17 14V3h4v11zM17 14l-4 8a3 3 0 0 1-3-3v-4H4.5a2 2 0 0 1-2-2.4l1.6-8A2 2 0 0 1 6.1 3H17",
  edit: "M4 20h4L19 9l-4-4L4 16zM13.5 6.5l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  again: "M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7",
};

function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

// The web UI: upload documents, ask questions, render the streamed answer and its sources.
"use strict";

const $ = (id) => document.getElementById(id);
let conversationId = null;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

async function errorMessage(response) {
  try {
    return (await response.json()).error.message;
  } catch {
    return `HTTP ${response.status}`;
  }
}

// Documents --------------------------------------------------------------------------------

async function refreshDocuments() {
  const response = await fetch("/api/documents");
  if (!response.ok) return;
  const { documents } = await response.json();
  const list = $("document-list");
  list.replaceChildren(...documents.map((doc) => {
    const item = el("li", { "data-status": doc.status });
    item.append(el("span", {}, doc.title));
    const detail = doc.status === "ready" ? `ready · ${doc.chunk_count} chunks` : doc.status;
    const badge = el("span", { class: `status ${doc.status}`, title: doc.error || "" }, detail);
    item.append(badge);
    return item;
  }));
  if (documents.some((d) => d.status === "queued" || d.status === "processing")) {
    setTimeout(refreshDocuments, 1000);
  }
}

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("file-input").files[0];
  if (!file) return;
  const status = $("upload-status");
  status.className = "";
  status.textContent = `Uploading ${file.name}…`;
  const body = new FormData();
  body.append("file", file);
  const response = await fetch("/api/documents", { method: "POST", body });
  if (response.ok) {
    const { duplicate } = await response.json();
    status.textContent = duplicate ? `${file.name} was already uploaded.` : `${file.name} uploaded.`;
    $("upload-form").reset();
  } else {
    status.className = "error";
    status.textContent = await errorMessage(response);
  }
  refreshDocuments();
});

// Answers ----------------------------------------------------------------------------------

// Parse a text/event-stream body into {event, data} objects as the bytes arrive.
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
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        else if (line.startsWith("id:")) id = line.slice(3).trim();
      }
      if (data.length) yield { event: name, data: JSON.parse(data.join("\n")), id };
    }
  }
}

function renderAnswer(node, text, unsupported = []) {
  // Citations [n] become highlighted marks; everything else stays plain text. A citation the
  // server's check found unsupported (its sentence is not what source n says) is flagged.
  node.replaceChildren();
  let sentence = "";
  for (const part of text.split(/(\[\d+\])/)) {
    if (!/^\[\d+\]$/.test(part)) {
      if (part.trim()) sentence = part;
      node.append(part);
      continue;
    }
    const n = Number(part.slice(1, -1));
    const flagged = unsupported.find((c) => c.n === n && sentence.includes(c.sentence));
    const attrs = flagged
      ? { class: "cite unsupported", title: `Source ${n} does not seem to say this` }
      : { class: "cite" };
    node.append(el("span", attrs, part));
  }
}

function renderSources(list, sources) {
  list.replaceChildren(...sources.map((source) => {
    const item = el("li", { value: source.n });
    item.append(el("span", { class: "title" }, source.title));
    if (source.page) item.append(` (p. ${source.page})`);
    item.append(" — ", el("span", { class: "snippet" }, source.snippet));
    return item;
  }));
}

$("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const turn = el("div", { class: "turn" });
  const label = el("div", { class: "label" });
  const answer = el("div", { class: "answer", "aria-live": "polite" });
  const sources = el("ol", { class: "sources" });
  turn.append(el("div", { class: "question" }, question), label, answer, sources);
  $("conversation").append(turn);
  $("question").value = "";
  $("ask-button").disabled = true;
  try {
    let response = await fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question, conversation_id: conversationId }),
    });
    if (!response.ok) {
      answer.classList.add("error");
      answer.textContent = await errorMessage(response);
      return;
    }
    let text = "";
    let lastId = null;
    let finished = false;
    // A stopping server worker ends its streams with a `reconnect` event (or the connection
    // just drops): the answer goes on from the last event received, on another worker.
    for (let attempt = 0; !finished && attempt <= 5; attempt++) {
      if (attempt > 0) {
        if (!lastId) break;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        response = await fetch("/api/chat", {
          headers: { Accept: "text/event-stream", "Last-Event-ID": lastId },
        });
        if (!response.ok) {
          answer.classList.add("error");
          answer.textContent = await errorMessage(response);
          return;
        }
      }
      try {
        for await (const { event: name, data, id } of readEvents(response)) {
          if (id) lastId = id;
          if (name === "meta") {
            conversationId = data.conversation_id;
            label.textContent = data.provider === "extractive"
              ? "Extractive answer (quoted from your documents)"
              : `Answer by a language model (${data.provider}), citations checked`;
          } else if (name === "sources") {
            renderSources(sources, data.sources);
          } else if (name === "token") {
            text += data.text;
            renderAnswer(answer, text);
          } else if (name === "error") {
            answer.classList.add("error");
            answer.textContent = data.message;
            finished = true;
          } else if (name === "done") {
            renderAnswer(answer, text, data.unsupported_citations || []);
            turn.dataset.done = "true";
            finished = true;
          } else if (name === "reconnect") {
            break;
          }
        }
      } catch (error) {
        if (!lastId) throw error; // nothing to resume from
      }
    }
    if (!finished) throw new Error("the answer stream ended early");
  } catch (error) {
    answer.classList.add("error");
    answer.textContent = `The connection was lost: ${error.message}`;
  } finally {
    $("ask-button").disabled = false;
  }
});

refreshDocuments();

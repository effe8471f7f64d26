// Asking: the answer streams in over SSE, resumes with Last-Event-ID when the connection drops
// or the server restarts, and can be stopped.
import { api, errorText, request } from "../api.js";
import { $, el } from "../dom.js";
import { readEvents } from "../events.js";
import { loadConversations, setConversation } from "./conversations.js";
import { showSourcesList } from "./sources.js";
import { state } from "./state.js";
import { finishTurn, markInterrupted, newTurn, notice, renderTurnSources, scrollToEnd, setProvider, showAnswerFacts, showAnswerHtml } from "./turns.js";

const RESUME_ATTEMPTS = 8; // about 25 s of backoff: long enough for a server restart

function setBusy(busy) {
  $("ask-button").hidden = busy;
  $("stop-button").hidden = !busy;
}

function askBody(question) {
  const body = { question, conversation_id: state.conversationId };
  if (state.scope.collection) body.collection = state.scope.collection;
  if (state.scope.documents.size) body.document_ids = [...state.scope.documents.keys()];
  return body;
}

export async function ask(question) {
  if (state.controller) return;
  const turn = newTurn(question);
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  scrollToEnd(true);
  const body = askBody(question);
  let lastEventId = null;
  let finished = false;
  try {
    for (let attempt = 0; !finished; attempt += 1) {
      const headers = { Accept: "text/event-stream" };
      if (lastEventId) headers["Last-Event-ID"] = lastEventId;
      try {
        const response = await request("/api/chat", { method: "POST", headers, json: body, signal: controller.signal });
        if (!response.ok) {
          if (lastEventId && response.status >= 500 && attempt < RESUME_ATTEMPTS) throw new Error("retry");
          turn.answer.classList.add("error");
          turn.answer.classList.remove("streaming");
          const message = await errorText(response);
          if (lastEventId) markInterrupted(turn, message);
          else turn.answer.textContent = message;
          return;
        }
        for await (const event of readEvents(response)) {
          if (event.id) lastEventId = event.id;
          // A stopping server worker says `reconnect`: go on from the last event elsewhere.
          if (event.event === "reconnect") break;
          if (await handleEvent(turn, event)) finished = true;
        }
        if (!finished) throw new Error("the stream ended early");
      } catch (error) {
        if (controller.signal.aborted) throw error;
        // A dropped connection resumes where it stopped, without the person noticing.
        if (!lastEventId || attempt >= RESUME_ATTEMPTS) {
          markInterrupted(turn, `The connection was lost (${error.message}).`);
          return;
        }
        turn.node.dataset.resumed = "true";
        await new Promise((resolve) => setTimeout(resolve, Math.min(500 * 2 ** attempt, 4000)));
      }
    }
  } catch (error) {
    if (controller.signal.aborted) {
      turn.node.dataset.stopped = "true";
      turn.answer.classList.remove("streaming");
      notice(turn, "Stopped. The answer above is incomplete.", "warn");
      const retry = el("button", { type: "button", class: "action" }, "Ask again");
      retry.addEventListener("click", () => ask(question));
      turn.actions.replaceChildren(retry);
    } else {
      markInterrupted(turn, `Something went wrong: ${error.message}.`);
    }
  } finally {
    state.controller = null;
    setBusy(false);
    loadConversations();
  }
}

// Handle one answer event; true when the stream is over.
async function handleEvent(turn, { event, data }) {
  if (event === "meta") {
    if (data.conversation_id !== state.conversationId) setConversation(data.conversation_id);
    turn.messageId = data.message_id;
    setProvider(turn, data.provider);
    loadConversations();
  } else if (event === "sources") {
    turn.sources = data.sources;
    showSourcesList(turn.sources, turn);
  } else if (event === "token") {
    turn.text += data.text;
    turn.answer.textContent = turn.text; // plain text while streaming; Markdown at done
    scrollToEnd();
  } else if (event === "error") {
    turn.answer.classList.remove("streaming");
    if (data.code === "interrupted") markInterrupted(turn, data.message);
    else {
      turn.node.dataset.error = data.code;
      turn.notices.append(el("p", { class: "notice error" }, data.message));
    }
    return true;
  } else if (event === "done") {
    await completeTurn(turn, data);
    return true;
  }
  return false;
}

async function completeTurn(turn, data) {
  try {
    const { html } = await api("/api/render", { method: "POST", json: { text: turn.text } });
    showAnswerHtml(turn, html);
  } catch {
    turn.answer.classList.remove("streaming");
  }
  // The provider came with `meta`; `done` says whether the documents answered, and which
  // citations could not be checked.
  showAnswerFacts(turn, { answered: data.answered, unsupported_citations: data.unsupported_citations });
  renderTurnSources(turn);
  finishTurn(turn);
  scrollToEnd();
  if ($("passage").hidden) showSourcesList(turn.sources, turn); // an open passage stays
}

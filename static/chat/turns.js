// One question and its answer on the page: the label saying who wrote it, the answer rendered
// as safe Markdown, its notices, the sources it cites, and the actions under it.
import { api } from "../api.js";
import { $, el, icon, toast } from "../dom.js";
import { CHANGED_NOTICE, citedNumbers, citedSentence, openCitation } from "./sources.js";
import { askAgain } from "./state.js";

export const NO_LLM_NOTICE = "No language model is configured: this answer quotes the most relevant sentences of your documents.";
export const NOT_ANSWERED_NOTICE = "Not answered from your documents: the passages below are only the closest ones found.";

/** A new turn at the end of the conversation. */
export function newTurn(question) {
  const empty = $("empty-state");
  if (empty) empty.remove();
  const node = el("article", { class: "turn" });
  const turn = {
    node,
    question,
    text: "",
    sources: [],
    changed: new Set(), // numbers n of sources whose passage changed since the answer
    messageId: null,
    provider: null,
    answered: null, // false when the documents did not answer; null when not known
    label: el("div", { class: "label" }),
    answer: el("div", { class: "answer streaming" }),
    notices: el("div", { class: "notices" }),
    sourceList: el("ol", { class: "sources" }),
    actions: el("div", { class: "actions" }),
  };
  node.turn = turn;
  node.append(el("div", { class: "question" }, question), turn.label, turn.answer, turn.notices, turn.sourceList, turn.actions);
  turn.answer.addEventListener("click", (event) => {
    const button = event.target.closest("button.cite");
    if (button) openCitation(turn, Number(button.dataset.n), button);
  });
  $("messages").append(node);
  return turn;
}

export function notice(turn, text, kind = "") {
  turn.notices.append(el("p", { class: `notice ${kind}` }, text));
}

/** Who wrote the answer: the extractive answerer, or a language model (by name). */
export function setProvider(turn, provider) {
  turn.provider = provider || null;
  if (!provider) turn.label.textContent = "";
  else if (provider === "extractive") turn.label.textContent = "Extractive answer: sentences quoted from your documents";
  else turn.label.textContent = `Answer written by a language model (${provider})`;
}

export function showAnswerHtml(turn, html) {
  turn.answer.classList.remove("streaming");
  turn.answer.innerHTML = html; // sanitised on the server (markdown-it + nh3)
  for (const pre of turn.answer.querySelectorAll("pre")) {
    const copy = el("button", { type: "button", class: "copy-code" }, "Copy");
    copy.addEventListener("click", () => copyText(pre.innerText.replace(/\nCopy$/, ""), copy));
    pre.append(copy);
  }
  for (const button of turn.answer.querySelectorAll("button.cite")) {
    const n = Number(button.dataset.n);
    const source = turn.sources[n - 1];
    button.setAttribute("aria-label", source ? `Source ${n}: ${source.title}` : `Source ${n}`);
  }
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    const before = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = before; }, 1500);
  } catch {
    toast("Copying needs a secure page (https or localhost).", "error");
  }
}

function squash(text) {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/**
 * What is known about a finished answer, live (meta + done events) or stored (the message of
 * GET /api/conversations/{id}): `provider`, `answered`, `unsupported_citations`. A field that
 * is missing (an older message, an older server) adds nothing.
 */
export function showAnswerFacts(turn, { provider, answered, unsupported_citations: unsupported } = {}) {
  if (provider !== undefined) setProvider(turn, provider);
  turn.answered = typeof answered === "boolean" ? answered : null;
  turn.node.dataset.answered = turn.answered === null ? "" : String(turn.answered);
  if (turn.answered === false) notice(turn, NOT_ANSWERED_NOTICE, "warn not-answered");
  if (turn.provider === "extractive") notice(turn, NO_LLM_NOTICE, "info");
  markUnsupported(turn, Array.isArray(unsupported) ? unsupported : []);
}

// A citation whose source does not seem to say what its sentence says gets a "?".
function markUnsupported(turn, unsupported) {
  for (const flag of unsupported) {
    const flagged = squash(flag.sentence || "");
    for (const button of turn.answer.querySelectorAll(`button.cite[data-n="${flag.n}"]`)) {
      const mine = squash(citedSentence(button));
      if (!flagged || !mine || flagged.includes(mine.slice(-40)) || mine.includes(flagged.slice(-40))) {
        button.classList.add("unsupported");
        button.title = `Source ${flag.n} does not seem to say this`;
      }
    }
  }
  if (unsupported.length) {
    notice(turn, `Check ${unsupported.length === 1 ? "one citation" : `${unsupported.length} citations`} marked with ?: the cited source does not seem to say what the sentence says.`, "warn unverified");
  }
}

function sourceItem(turn, source) {
  const changed = turn.changed.has(source.n);
  const button = el("button", { type: "button", class: changed ? "source-chip changed" : "source-chip", title: changed ? CHANGED_NOTICE : null },
    el("span", { class: "n" }, String(source.n)), ` ${source.title}`, source.page ? el("span", { class: "muted" }, ` · p. ${source.page}`) : null,
    changed ? el("span", { class: "changed-tag" }, " · changed") : null);
  button.addEventListener("click", () => openCitation(turn, source.n, button));
  return el("li", { value: source.n }, button);
}

/** Under the answer: only the sources it cites; the rest of what was searched folds away, so
 * an answer that says the documents do not cover the question does not list five sources. */
export function renderTurnSources(turn) {
  const cited = citedNumbers(turn.text);
  const used = turn.sources.filter((s) => cited.has(s.n));
  const other = turn.sources.filter((s) => !cited.has(s.n));
  turn.sourceList.replaceChildren(...used.map((s) => sourceItem(turn, s)));
  if (other.length) {
    const plural = other.length > 1 ? "s" : "";
    const summary = turn.answered === false
      ? `${other.length} closest passage${plural}, not an answer`
      : `${other.length} other passage${plural} searched`;
    const details = el("details", { class: "other-sources" }, el("summary", {}, summary));
    details.append(el("ol", {}, ...other.map((s) => sourceItem(turn, s))));
    turn.sourceList.append(el("li", { class: "other" }, details));
  }
}

/** The actions under a finished answer: copy, regenerate, and the thumbs once it is stored. */
export function finishTurn(turn, { rating = null } = {}) {
  turn.node.dataset.done = "true";
  const copy = el("button", { type: "button", class: "action" }, icon("copy"), el("span", {}, "Copy"));
  copy.addEventListener("click", () => copyText(turn.text, copy.lastChild));
  const again = el("button", { type: "button", class: "action" }, icon("again"), "Regenerate");
  again.addEventListener("click", () => askAgain(turn.question));
  const actions = [copy, again];
  if (turn.messageId) {
    const up = el("button", { type: "button", class: "action thumb", "aria-pressed": String(rating === 1), "aria-label": "Helpful", title: "Helpful" }, icon("up"));
    const down = el("button", { type: "button", class: "action thumb", "aria-pressed": String(rating === -1), "aria-label": "Not helpful", title: "Not helpful" }, icon("down"));
    up.addEventListener("click", () => rate(turn, 1, up, down));
    down.addEventListener("click", () => openFeedbackForm(turn, up, down));
    actions.push(up, down);
  }
  turn.actions.replaceChildren(...actions);
}

async function rate(turn, rating, up, down, comment = "") {
  try {
    await api(`/api/messages/${turn.messageId}/feedback`, { method: "PUT", json: { rating, comment } });
  } catch (error) {
    toast(error.message, "error");
    return false;
  }
  up.setAttribute("aria-pressed", String(rating === 1));
  down.setAttribute("aria-pressed", String(rating === -1));
  toast("Thank you for the feedback.");
  return true;
}

function openFeedbackForm(turn, up, down) {
  if (turn.node.querySelector(".feedback-form")) return;
  const id = `comment-${turn.messageId}`;
  const comment = el("textarea", { id, rows: "2", maxlength: "2000", placeholder: "What was wrong? (optional)" });
  const form = el("form", { class: "feedback-form" }, el("label", { for: id }, "What was wrong with this answer?"), comment, el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Send feedback"), el("button", { type: "button", class: "cancel" }, "Cancel")));
  form.querySelector(".cancel").addEventListener("click", () => form.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await rate(turn, -1, up, down, comment.value)) form.remove();
  });
  turn.actions.after(form);
  comment.focus();
}

/** A cut answer: what arrived stays, a notice says so, Retry where it is offered. */
export function markInterrupted(turn, message, offerRetry = true) {
  turn.answer.classList.remove("streaming");
  turn.node.dataset.interrupted = "true";
  const line = el("p", { class: "notice warn" }, `${message} `);
  if (offerRetry) {
    const retry = el("button", { type: "button", class: "action retry" }, "Retry");
    retry.addEventListener("click", () => askAgain(turn.question));
    line.append(retry);
  }
  turn.notices.append(line);
}

export function scrollToEnd(force = false) {
  const box = $("messages");
  const near = box.scrollHeight - box.scrollTop - box.clientHeight < 160;
  if (force || near) box.scrollTop = box.scrollHeight;
}

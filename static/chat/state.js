// What the chat page holds between events: the conversation shown, the answer streaming now,
// and the scope of the next question.

export const state = {
  conversationId: null,
  controller: null, // AbortController of the answer streaming now
  scope: { collection: "", documents: new Map() }, // document id -> title
  documents: [], // ready documents, for the chooser
};

/** Stop the answer streaming now, if one is. */
export function stopAnswer() {
  if (state.controller) state.controller.abort();
}

/** Ask `question` (again): the page's wiring (main.js) listens and starts the stream. */
export function askAgain(question) {
  document.dispatchEvent(new CustomEvent("chat:ask", { detail: { question } }));
}

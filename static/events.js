// Server-sent events: the answer stream (read from a fetch body, so it can be a POST and resume
// with Last-Event-ID) and the document events (an EventSource, which reconnects by itself).

/** Parse a text/event-stream body into {id, event, data} objects as the bytes arrive. */
export async function* readEvents(response) {
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

let documentSource = null;
const documentListeners = new Set();

/** Listen to document events: handler({type, id, ...}) for `status` and `progress`. One
 * EventSource per page, however many parts of the page listen. */
export function onDocumentEvent(handler) {
  documentListeners.add(handler);
  if (!documentSource) {
    documentSource = new EventSource("/api/documents/events");
    for (const type of ["status", "progress"]) {
      documentSource.addEventListener(type, (event) => {
        const data = { ...JSON.parse(event.data), type };
        for (const listener of documentListeners) listener(data);
      });
    }
  }
  return () => documentListeners.delete(handler);
}

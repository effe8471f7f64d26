// What each ingestion stage is called on the page. The keys are the `stage` values that
// app/ingest/worker.py sends in its progress events (app/db/documents.notify_progress); one
// the table does not know yet is shown by its own name rather than hidden.
export const STAGES = {
  queued: "Waiting",
  parsing: "Reading",
  chunking: "Splitting",
  embedding: "Indexing",
  storing: "Saving",
  processing: "Processing",
};

/** "Indexing… 40/100" for a progress event. */
export function stageText({ stage, done, total }) {
  const name = STAGES[stage] || (stage ? stage[0].toUpperCase() + stage.slice(1) : "Processing");
  const count = total ? ` ${done}/${total}` : "";
  return `${name}…${count}`;
}

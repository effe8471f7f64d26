// A shared conversation: a citation [n] shows source n of its answer (and opens its passage
// when the viewer may read it). The page works without this script; it only saves scrolling.
document.addEventListener("click", (event) => {
  const cite = event.target.closest("button.cite");
  if (!cite) return;
  const answer = cite.closest(".shared-answer");
  const source = answer && answer.querySelector(`li[data-n="${cite.dataset.n}"]`);
  if (!source) return;
  const details = source.querySelector("details");
  if (details) details.open = true;
  source.scrollIntoView({ block: "nearest", behavior: "smooth" });
  source.focus({ preventScroll: true });
});

// What people read about a document or a passage: its name, a clean snippet.

/** A document's file name (the last part of its source path or URL). */
export function fileName(source) {
  if (!source) return "";
  const clean = source.split(/[?#]/)[0].replace(/\/+$/, "");
  try {
    return decodeURIComponent(clean.slice(clean.lastIndexOf("/") + 1)) || source;
  } catch {
    return clean.slice(clean.lastIndexOf("/") + 1) || source;
  }
}

const GENERIC_TITLES = /^(untitled|untitled document|document|microsoft word - .*|title|new document|none|unknown)$/i;

/** {title, file}: the title to show, and the file name beside it only when it says more
 * (file is "" otherwise, never null: a page must not print "null"). */
export function documentName(title, source) {
  const file = fileName(source);
  const stem = file.replace(/\.[a-z0-9]+$/i, "").replace(/[-_]+/g, " ").toLowerCase();
  const t = (title || "").trim();
  if (!t || GENERIC_TITLES.test(t)) return { title: file || "Untitled", file: "" };
  if (!file || t.toLowerCase() === stem || t.toLowerCase() === file.toLowerCase()) return { title: t, file: "" };
  return { title: t, file };
}

/** A snippet people can read: no Markdown pipes, backticks or heading marks, whole words. */
export function cleanSnippet(text, max = 220) {
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

/** A snippet starts with the headings above its passage; the title already says them. */
export function withoutHeadings(snippet, headings = []) {
  let text = (snippet || "").replace(/^[\s#]+/, "");
  for (const heading of headings || []) {
    if (text.startsWith(heading)) text = text.slice(heading.length).replace(/^[\s#]+/, "");
  }
  return text;
}

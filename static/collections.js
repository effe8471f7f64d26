// Deleting a collection, from the documents page and the admin page: an empty one at once, one
// with documents only after the person has confirmed that its documents go with it.
import { api } from "./api.js";

const documents = (n) => `${n} document${n === 1 ? "" : "s"}`;

/** Delete the collection `name` holding `count` documents; true when it is gone. Throws an
 * ApiError (in words) when the server refuses. */
/** `ref` names it for the server: its name, or "id:N" where several share the name. */
export async function deleteCollection(name, count, ref = name) {
  const question = count
    ? `Delete the collection “${name}” and its ${documents(count)}? Answers will no longer cite them. This cannot be undone.`
    : `Delete the empty collection “${name}”?`;
  if (!confirm(question)) return false;
  const path = `/api/collections/${encodeURIComponent(ref)}`;
  await api(count ? `${path}?delete_documents=true` : path, { method: "DELETE" });
  return true;
}

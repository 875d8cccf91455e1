// Fetch helpers shared by every page: same-origin credentials, and the CSRF token on every write.

const csrfMeta = document.querySelector('meta[name="csrf-token"]');

export function csrfToken() {
  return csrfMeta ? csrfMeta.content : "";
}

/** Headers a write needs: the page's CSRF token. */
export function writeHeaders(headers = {}) {
  const token = csrfToken();
  return token ? { ...headers, "X-CSRF-Token": token } : { ...headers };
}

/** fetch() for the portal: same-origin cookies always, the CSRF token on non-GET requests. */
export async function api(url, options = {}) {
  return (await versioned(url, options)).body;
}

/** api(), and the response's ETag: `{ body, etag }`. Send the ETag back as If-Match to change only that version;
 * when someone else changed it meanwhile, the error thrown has `status` 412. */
export async function versioned(url, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const init = { ...options, method, credentials: "same-origin",
    headers: method === "GET" || method === "HEAD" ? headers : writeHeaders(headers) };
  const response = await fetch(url, init);
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch (_) { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  const etag = response.headers.get("etag");
  if (response.status === 204) return { body: null, etag };
  const type = response.headers.get("content-type") || "";
  return { body: await (type.includes("json") ? response.json() : response.text()), etag };
}

const stringsNode = document.getElementById("strings");
const strings = stringsNode ? JSON.parse(stringsNode.textContent) : {};

/** The page's translation of a "js." string, with {name} placeholders filled. */
export function t(key, values = {}) {
  const text = strings["js." + key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** The message for a failed change: someone else's change meanwhile (412, the `stale` string), or the server's. */
export function problemText(error, stale = "stale") {
  return error.status === 412 ? t(stale) : t("error", { msg: error.message });
}

/** An element with attributes and children, without innerHTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

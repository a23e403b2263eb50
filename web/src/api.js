// The server's API, as the dashboard uses it: JSON with the account's bearer token, and the
// server-sent-events stream read over fetch (EventSource cannot send a token).

let token = sessionStorage.getItem('truce-token') || '';

export function setToken(t) {
  token = t || '';
  if (token) sessionStorage.setItem('truce-token', token);
  else sessionStorage.removeItem('truce-token');
}

export function hasToken() {
  return token !== '';
}

function headers(extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function get(path) {
  return answer(await fetch(path, { headers: headers() }));
}

export async function text(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw new ApiError(response.status, null);
  return response.text();
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify(body ?? {}),
  }));
}

// Follows `/v1/stream`, calling onMessage(eventName, data) for each message and reconnecting
// after a pause when the connection drops. Returns a function that stops it.
export function follow(onMessage, onState) {
  let stopped = false;
  let controller = null;
  (async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch('/v1/stream', { headers: headers(), signal: controller.signal });
        if (!response.ok) throw new ApiError(response.status, null);
        onState(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length) onMessage(name, JSON.parse(data.join('\n')));
          }
        }
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 401) { onState(false); return; }
      }
      onState(false);
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => { stopped = true; controller?.abort(); };
}

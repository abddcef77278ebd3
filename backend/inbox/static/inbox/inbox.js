// The inbox's live side: one WebSocket (/ws/v1/, the session cookie) that keeps the open
// page current, resumes every conversation from its cursor after any reconnect, and
// never shows a message twice. Loaded as an ES module by every signed-in page; no inline
// script anywhere (the Content-Security-Policy forbids it).

const body = document.body;
const strings = JSON.parse(document.getElementById("inbox-strings")?.textContent || "{}");
const page = body.dataset.page;
const myUserId = Number(body.dataset.userId);
const timeZone = body.dataset.timeZone || "Europe/Stockholm";

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000];
const PING_EVERY_MS = 25000;
const PONG_WITHIN_MS = 10000;
const RESEND_AFTER_MS = 8000;
const REST_FALLBACK_AFTER_MS = 5000;

// --- formatting ---------------------------------------------------------------------------

const timeFormat = new Intl.DateTimeFormat("sv-SE", {
  timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
});

function localTime(iso) {
  return timeFormat.format(new Date(iso));
}

function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // Outside a secure context randomUUID is missing; getRandomValues is not.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// --- the connection -----------------------------------------------------------------------

const stateElement = document.querySelector("[data-testid=connection-state]");
const handlers = { open: [], frame: [] };
let socket = null;
let attempt = 0;
let reconnectTimer = null;
let pingTimer = null;
let pongTimer = null;

function showState(state) {
  if (!stateElement) return;
  stateElement.dataset.state = state;
  stateElement.textContent = strings[state] || state;
}

function connect() {
  clearTimeout(reconnectTimer);
  if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
  showState(attempt === 0 ? "connecting" : "reconnecting");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/v1/`);
  socket = ws;
  ws.addEventListener("open", () => {
    attempt = 0;
    showState("connected");
    startHeartbeat();
    handlers.open.forEach((handler) => handler());
  });
  ws.addEventListener("message", (event) => {
    clearTimeout(pongTimer);
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    handlers.frame.forEach((handler) => handler(frame));
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    stopHeartbeat();
    socket = null;
    showState("reconnecting");
    const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)];
    attempt += 1;
    reconnectTimer = setTimeout(connect, delay * (0.75 + Math.random() / 2));
  });
}

function startHeartbeat() {
  stopHeartbeat();
  // A laptop lid or a dead network leaves a socket that looks open: a ping that gets no
  // answer closes it, and the close handler reconnects.
  pingTimer = setInterval(() => {
    if (!send({ type: "ping" })) return;
    pongTimer = setTimeout(() => socket?.close(), PONG_WITHIN_MS);
  }, PING_EVERY_MS);
}

function stopHeartbeat() {
  clearInterval(pingTimer);
  clearTimeout(pongTimer);
}

function send(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(frame));
  return true;
}

function isOpen() {
  return socket !== null && socket.readyState === WebSocket.OPEN;
}

window.addEventListener("online", () => { attempt = 0; connect(); });
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !isOpen()) { attempt = 0; connect(); }
});

// --- fragments: the server renders, the page swaps ------------------------------------------

function refresher(url, target, { keepWhileEditing = false } = {}) {
  let timer = null;
  let inFlight = false;
  let again = false;
  function writing() {
    return keepWhileEditing
      && [...target.querySelectorAll("input:not([type=hidden]), textarea")].some((field) => field.value);
  }
  function later() {
    // Never wipe a note someone is writing: look again in a moment.
    clearTimeout(timer);
    timer = setTimeout(refresh, 2000);
  }
  async function refresh() {
    if (writing()) { later(); return; }
    if (inFlight) { again = true; return; }
    inFlight = true;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.redirected && response.url.includes("/inbox/login/")) { location.reload(); return; }
      const html = response.ok ? await response.text() : null;
      if (html !== null && writing()) later(); // they started writing while it loaded
      else if (html !== null) target.innerHTML = html;
    } catch {
      // Offline: the next frame or reconnect refreshes again.
    } finally {
      inFlight = false;
      if (again) { again = false; schedule(); }
    }
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }
  return schedule;
}

// --- alerts: banner, sound, notification ------------------------------------------------------

const banner = document.getElementById("alert-banner");
const offer = document.getElementById("notification-offer");
let audio = null;

function beep() {
  try {
    audio = audio || new AudioContext();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.8);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.8);
  } catch {
    // No sound before the page was touched; the banner still shows.
  }
}

function announceCriticalAlert() {
  if (banner) banner.hidden = false;
  beep();
  if ("Notification" in window && Notification.permission === "granted") {
    // Only that there is an alert: no alias, no text, nothing for a lock screen to show.
    new Notification(strings.new_alert, { body: strings.new_alert_body, tag: "livlina-alert" });
  }
}

document.getElementById("alert-banner-close")?.addEventListener("click", () => { banner.hidden = true; });
if (offer && "Notification" in window && Notification.permission === "default"
    && sessionStorage.getItem("livlina-notifications-later") !== "1") {
  offer.hidden = false;
  document.getElementById("notification-later")?.addEventListener("click", () => {
    sessionStorage.setItem("livlina-notifications-later", "1"); // asked again in the next session
    offer.hidden = true;
  });
  document.getElementById("notification-allow")?.addEventListener("click", async () => {
    await Notification.requestPermission();
    offer.hidden = true;
  });
}

handlers.frame.push((frame) => {
  if (frame.type === "alert.new" && frame.alert?.severity === "critical") announceCriticalAlert();
});

// --- the work queue and the alert queue -----------------------------------------------------

const queueRows = document.getElementById("queue-rows");
if (queueRows) {
  const refreshQueue = refresher("/inbox/queue-rows/", queueRows);
  handlers.open.push(refreshQueue);
  handlers.frame.push((frame) => {
    if (["message.new", "alert.new", "alert.updated", "receipt.read"].includes(frame.type)) refreshQueue();
  });
  setInterval(refreshQueue, 60000); // "waiting since" ages
}

const alertRows = document.getElementById("alert-rows");
if (alertRows) {
  const refreshAlerts = refresher("/inbox/alerts/rows/", alertRows, { keepWhileEditing: true });
  handlers.open.push(refreshAlerts);
  handlers.frame.push((frame) => {
    if (frame.type === "alert.new" || frame.type === "alert.updated") refreshAlerts();
  });
}

// --- a conversation ---------------------------------------------------------------------------

const list = document.getElementById("messages");
if (list && body.dataset.conversation) startConversation();

function startConversation() {
  const conversation = Number(body.dataset.conversation);
  const defectorUser = Number(body.dataset.defectorUser);
  const names = JSON.parse(document.getElementById("participant-names")?.textContent || "{}");
  const form = document.getElementById("reply-form");
  const input = document.getElementById("reply-input");
  const emptyNote = document.getElementById("no-messages");
  const csrfToken = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1]
    || document.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
  let lastSeq = 0;
  let myReadSeq = Number(body.dataset.myReadSeq || 0);
  let defectorReadSeq = Number(body.dataset.defectorReadSeq || 0);
  const pending = new Map(); // client_id -> {body, element, timer}

  function seqOf(element) { return Number(element.dataset.seq || 0); }

  function updateLastSeq() {
    list.querySelectorAll("[data-seq]").forEach((el) => { lastSeq = Math.max(lastSeq, seqOf(el)); });
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  function scrollToBottom() { list.scrollTop = list.scrollHeight; }

  function receiptText(element) {
    if (element.classList.contains("pending")) return strings.sending;
    if (element.classList.contains("failed")) return strings.failed;
    return seqOf(element) <= defectorReadSeq ? strings.read : strings.sent;
  }

  function refreshReceipts() {
    list.querySelectorAll("li.from-staff").forEach((el) => {
      const receipt = el.querySelector(".receipt");
      if (receipt) receipt.textContent = receiptText(el);
    });
  }

  function messageElement({ seq, client_id: clientId, sender, body: text, created_at: createdAt }) {
    const li = document.createElement("li");
    li.dataset.testid = "conversation-message";
    if (seq) li.dataset.seq = String(seq);
    li.dataset.clientId = clientId;
    li.dataset.sender = String(sender);
    li.className = `message ${sender === defectorUser ? "from-defector" : "from-staff"}`;
    const meta = document.createElement("div");
    meta.className = "meta";
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = names[String(sender)] || strings.staff;
    const time = document.createElement("time");
    time.dateTime = createdAt;
    time.textContent = localTime(createdAt);
    meta.append(who, " ", time);
    if (sender !== defectorUser) {
      const receipt = document.createElement("span");
      receipt.className = "receipt";
      meta.append(" ", receipt);
    }
    const p = document.createElement("p");
    p.className = "body";
    p.textContent = text; // text, never HTML
    li.append(meta, p);
    return li;
  }

  // Stored messages in seq order, then the ones still being sent (they have no seq yet).
  function insertInOrder(element) {
    const seq = seqOf(element);
    const later = seq
      ? [...list.querySelectorAll("li.message")].find((el) => el !== element && (!el.dataset.seq || seqOf(el) > seq))
      : null;
    list.insertBefore(element, later || null);
    if (emptyNote) emptyNote.hidden = true;
  }

  function showMessage(message) {
    if (list.querySelector(`li[data-seq="${message.seq}"]`)) return; // already shown
    const stick = nearBottom();
    const own = pending.get(message.client_id);
    if (own) {
      settle(message.client_id, message.seq);
    } else {
      const existing = list.querySelector(`li[data-client-id="${message.client_id}"][data-sender="${message.sender}"]`);
      if (existing) existing.dataset.seq = String(message.seq);
      else insertInOrder(messageElement(message));
    }
    lastSeq = Math.max(lastSeq, message.seq);
    refreshReceipts();
    if (stick) scrollToBottom();
    markRead();
  }

  function settle(clientId, seq) {
    const entry = pending.get(clientId);
    if (!entry) return;
    clearTimeout(entry.timer);
    pending.delete(clientId);
    const duplicate = list.querySelector(`li[data-seq="${seq}"]`);
    if (duplicate && duplicate !== entry.element) duplicate.remove();
    entry.element.classList.remove("pending", "failed");
    entry.element.dataset.seq = String(seq);
    insertInOrder(entry.element); // to its place among messages that arrived meanwhile
    entry.element.querySelector(".retry")?.remove();
    lastSeq = Math.max(lastSeq, seq);
    refreshReceipts();
  }

  function fail(clientId, detail) {
    const entry = pending.get(clientId);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.element.classList.remove("pending");
    entry.element.classList.add("failed");
    entry.element.title = detail || "";
    if (!entry.element.querySelector(".retry")) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "retry link";
      retry.textContent = strings.retry;
      retry.addEventListener("click", () => {
        entry.element.classList.remove("failed");
        entry.element.classList.add("pending");
        retry.remove();
        refreshReceipts();
        transmit(clientId);
      });
      entry.element.append(retry);
    }
    refreshReceipts();
  }

  async function postOverRest(clientId) {
    const entry = pending.get(clientId);
    if (!entry) return;
    try {
      const response = await fetch(`/api/v1/conversations/${conversation}/messages`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ client_id: clientId, body: entry.body }),
      });
      if (response.ok) {
        settle(clientId, (await response.json()).seq);
      } else if (response.status === 429 || response.status >= 500) {
        entry.timer = setTimeout(() => transmit(clientId), RESEND_AFTER_MS);
      } else {
        fail(clientId, (await response.json().catch(() => ({}))).detail);
      }
    } catch {
      entry.timer = setTimeout(() => transmit(clientId), RESEND_AFTER_MS);
    }
  }

  // Sent with the same client_id however often it is retried: the server stores it once.
  function transmit(clientId) {
    const entry = pending.get(clientId);
    if (!entry) return;
    clearTimeout(entry.timer);
    if (send({ type: "message.send", conversation, client_id: clientId, body: entry.body })) {
      entry.timer = setTimeout(() => transmit(clientId), RESEND_AFTER_MS);
    } else {
      entry.timer = setTimeout(() => postOverRest(clientId), REST_FALLBACK_AFTER_MS);
    }
  }

  form?.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    const clientId = newClientId();
    const element = messageElement({
      seq: 0, client_id: clientId, sender: myUserId, body: text, created_at: new Date().toISOString(),
    });
    element.classList.add("pending");
    insertInOrder(element);
    pending.set(clientId, { body: text, element, timer: null });
    input.value = "";
    refreshReceipts();
    scrollToBottom();
    transmit(clientId);
  });
  input?.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  function markRead() {
    if (document.visibilityState !== "visible" || !nearBottom() || lastSeq <= myReadSeq) return;
    if (send({ type: "read", conversation, up_to_seq: lastSeq })) myReadSeq = lastSeq;
  }

  async function loadOlder() {
    const first = list.querySelector("li[data-seq]");
    const marker = list.querySelector("li.older");
    if (!first || !marker || marker.dataset.loading) return;
    marker.dataset.loading = "1";
    const before = list.scrollHeight - list.scrollTop;
    try {
      const response = await fetch(`${body.dataset.olderUrl}?before_seq=${seqOf(first)}`, { credentials: "same-origin" });
      if (!response.ok) return;
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      marker.remove();
      list.prepend(template.content);
      refreshReceipts();
      list.scrollTop = list.scrollHeight - before;
    } finally {
      delete marker.dataset.loading;
    }
  }

  list.addEventListener("click", (event) => {
    if (event.target.closest("[data-load-older]")) loadOlder();
  });
  list.addEventListener("scroll", () => {
    if (list.scrollTop < 40) loadOlder();
    markRead();
  });
  document.addEventListener("visibilitychange", markRead);

  handlers.open.push(() => {
    // Resume from the cursor: whatever was written while away arrives as message.new.
    send({ type: "sync", conversation, after_seq: lastSeq });
    pending.forEach((_entry, clientId) => transmit(clientId));
  });
  handlers.frame.push((frame) => {
    // Error frames name the send (client_id), not the conversation.
    if (frame.type !== "error" && frame.conversation !== conversation) return;
    switch (frame.type) {
      case "message.new":
        if (frame.message.seq > lastSeq + 1 && isOpen()) send({ type: "sync", conversation, after_seq: lastSeq });
        showMessage(frame.message);
        break;
      case "message.ack":
        settle(frame.client_id, frame.seq);
        break;
      case "sync.done":
        markRead();
        break;
      case "receipt.read":
        if (frame.user === defectorUser) { defectorReadSeq = Math.max(defectorReadSeq, frame.up_to_seq); refreshReceipts(); }
        if (frame.user === myUserId) myReadSeq = Math.max(myReadSeq, frame.up_to_seq);
        break;
      case "error":
        if (!frame.client_id) break;
        if (frame.code === "rate-limited" || frame.code === "server-error" || frame.code === "unavailable") {
          const entry = pending.get(frame.client_id);
          if (entry) { clearTimeout(entry.timer); entry.timer = setTimeout(() => transmit(frame.client_id), RESEND_AFTER_MS); }
        } else {
          fail(frame.client_id, frame.detail);
        }
        break;
      default:
    }
  });

  updateLastSeq();
  refreshReceipts();
  list.querySelectorAll("time[datetime]").forEach((t) => { t.textContent = localTime(t.dateTime); });
  scrollToBottom();
}

connect();

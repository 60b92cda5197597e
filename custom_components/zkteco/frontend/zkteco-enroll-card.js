// custom:zkteco-enroll-card: pick a person and a finger, watch the terminal's three presses.
//
// Plain JavaScript, no build step and no imports: Home Assistant serves this file as it is (see
// card.py). It uses the integration's admin-only websocket commands (zkteco/users,
// zkteco/enrolled_fingers, zkteco/enrollment: the one running, picked up on load), the
// zkteco.enroll_finger / cancel_enrollment actions and the zkteco_enrollment_press /
// zkteco_enrollment_finished events. Finger indexes are the API
// document's: 0 right thumb ... 4 right little, 5 left thumb ... 9 left little.

const DOMAIN = "zkteco";
const PRESSES = 3;
// Left to right as a person sees their own hands, backs up: left little ... left thumb, then
// right thumb ... right little.
const HANDS = [
  { key: "left", fingers: [9, 8, 7, 6], thumb: 5 },
  { key: "right", fingers: [1, 2, 3, 4], thumb: 0 },
];
// Finger lengths (thumb, index, middle, ring, little), to draw a hand.
const FINGER_HEIGHT = 80;
const LENGTHS = { 0: 0.6, 1: 0.85, 2: 1, 3: 0.9, 4: 0.68 };

const STRINGS = {
  en: {
    title: "Fingerprint enrollment",
    no_terminal: "Choose a ZKTeco terminal in the card's settings.",
    admin_only:
      "Only Home Assistant administrators can enroll fingerprints. Ask an administrator to enroll you, or to give your account administrator rights.",
    person: "Person",
    search: "Search by name or ID",
    no_people: "No one matches.",
    loading: "Reading the terminal…",
    fingers: "Finger",
    left: "Left hand",
    right: "Right hand",
    enrolled: "enrolled",
    start: "Start",
    cancel: "Cancel",
    choose: "Choose a person and a finger, then press Start.",
    starting: "Asking the terminal to start…",
    place: "{name}: place the {finger} on the terminal.",
    follow_screen:
      "{name}: follow the terminal's screen. It asks for the {finger} three times; the result shows here when it is done.",
    press_n: "Press {n} of 3",
    press_done: "Press {n} of 3: done",
    bad_press: "That press was not clear. Place the finger again, flat and still.",
    outcome: {
      success: "Enrolled. {name} can now use the {finger} on the terminal.",
      already_enrolled:
        "{name} already has the {finger} enrolled. Choose another finger, or delete that fingerprint on the terminal first.",
      duplicate:
        "This finger is already enrolled for someone else. Use another finger, or check on the terminal whose it is.",
      bad_quality:
        "The presses were not clear enough. Clean and dry the finger, press it flat, and start again.",
      timeout:
        "Nobody placed the finger in time. Press Start again when the person is at the terminal.",
      cancelled: "Enrollment cancelled. The terminal is back to normal.",
      failed:
        "The finger was not enrolled: the terminal could not be reached, or it did not store the finger. Check that it is on and connected, then try again.",
      busy: "Another enrollment is running on this terminal. Wait for it to end, or cancel it.",
      user_not_found:
        "{name} is no longer on the terminal. Reload this page to read its people again, or add the person on the terminal first.",
      not_supported:
        "This terminal cannot enroll fingerprints from Home Assistant. Enroll the finger from the terminal's own menu.",
      error: "The enrollment could not start: {message}",
    },
    finger_names: [
      "right thumb",
      "right index finger",
      "right middle finger",
      "right ring finger",
      "right little finger",
      "left thumb",
      "left index finger",
      "left middle finger",
      "left ring finger",
      "left little finger",
    ],
    editor_terminal: "Terminal",
    editor_none: "No ZKTeco terminal is set up.",
    picker_description:
      "Enroll a fingerprint on a ZKTeco terminal: pick a person and a finger, watch the three presses.",
  },
  es: {
    title: "Registro de huellas",
    no_terminal: "Elige un terminal ZKTeco en la configuración de la tarjeta.",
    admin_only:
      "Solo los administradores de Home Assistant pueden registrar huellas. Pide a un administrador que te registre, o que dé permisos de administrador a tu cuenta.",
    person: "Persona",
    search: "Buscar por nombre o ID",
    no_people: "Nadie coincide.",
    loading: "Leyendo el terminal…",
    fingers: "Dedo",
    left: "Mano izquierda",
    right: "Mano derecha",
    enrolled: "registrado",
    start: "Empezar",
    cancel: "Cancelar",
    choose: "Elige una persona y un dedo, y pulsa Empezar.",
    starting: "Pidiendo al terminal que empiece…",
    place: "{name}: pon el {finger} en el terminal.",
    follow_screen:
      "{name}: sigue la pantalla del terminal. Pide el {finger} tres veces; el resultado aparece aquí al terminar.",
    press_n: "Pulsación {n} de 3",
    press_done: "Pulsación {n} de 3: hecha",
    bad_press: "Esa pulsación no se leyó bien. Vuelve a poner el dedo, plano y quieto.",
    outcome: {
      success: "Registrado. {name} ya puede usar el {finger} en el terminal.",
      already_enrolled:
        "{name} ya tiene registrado el {finger}. Elige otro dedo, o borra antes esa huella en el terminal.",
      duplicate:
        "Este dedo ya está registrado para otra persona. Usa otro dedo, o comprueba en el terminal de quién es.",
      bad_quality:
        "Las pulsaciones no se leyeron bien. Limpia y seca el dedo, apóyalo plano y vuelve a empezar.",
      timeout:
        "Nadie puso el dedo a tiempo. Pulsa Empezar otra vez cuando la persona esté en el terminal.",
      cancelled: "Registro cancelado. El terminal vuelve a funcionar con normalidad.",
      failed:
        "La huella no se registró: no se pudo contactar con el terminal, o no la guardó. Comprueba que está encendido y conectado, y vuelve a intentarlo.",
      busy: "Ya hay un registro en curso en este terminal. Espera a que termine, o cancélalo.",
      user_not_found:
        "{name} ya no está en el terminal. Recarga esta página para volver a leer sus personas, o da de alta antes a la persona en el terminal.",
      not_supported:
        "Este terminal no puede registrar huellas desde Home Assistant. Registra el dedo desde el menú del propio terminal.",
      error: "El registro no pudo empezar: {message}",
    },
    finger_names: [
      "pulgar derecho",
      "índice derecho",
      "dedo medio derecho",
      "anular derecho",
      "meñique derecho",
      "pulgar izquierdo",
      "índice izquierdo",
      "dedo medio izquierdo",
      "anular izquierdo",
      "meñique izquierdo",
    ],
    editor_terminal: "Terminal",
    editor_none: "No hay ningún terminal ZKTeco configurado.",
    picker_description:
      "Registra una huella en un terminal ZKTeco: elige una persona y un dedo, y sigue las tres pulsaciones.",
  },
};

// What a refused start means, by the integration's translation key (a key that names an
// outcome, user_not_found say, means that outcome).
const START_ERRORS = {
  finger_already_enrolled: "already_enrolled",
  enrollment_in_progress: "busy",
  device_error: "failed",
  cannot_connect: "failed",
};

function language(hass) {
  const wanted = (hass && ((hass.locale && hass.locale.language) || hass.language)) || "en";
  return wanted.toLowerCase().startsWith("es") ? "es" : "en";
}

function format(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? values[key] : `{${key}}`));
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === undefined || value === null) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

// The devices of the integration's entities: the terminals the card can use.
function terminals(hass) {
  const ids = new Set(
    Object.values(hass.entities || {})
      .filter((entity) => entity.platform === DOMAIN && entity.device_id)
      .map((entity) => entity.device_id),
  );
  return [...ids].map((id) => {
    const device = (hass.devices || {})[id] || {};
    return { id, name: device.name_by_user || device.name || id };
  });
}

const FOCUS_INSTEAD = { ".start": ".cancel", ".cancel": ".start" };

// A selector that finds the focused control again once the card is drawn anew.
function focusKey(active) {
  if (!active) return null;
  for (const name of ["data-user", "data-finger"]) {
    if (active.hasAttribute(name)) return `[${name}="${CSS.escape(active.getAttribute(name))}"]`;
  }
  return active.classList.length ? `.${active.classList[0]}` : null;
}

const STYLE = `
  :host { display: block; }
  ha-card { padding: 16px; box-sizing: border-box; }
  h2 { margin: 0 0 12px; font-size: 1.25em; font-weight: 500; color: var(--primary-text-color); }
  .notice { color: var(--primary-text-color); margin: 0; line-height: 1.5; }
  label, .label { display: block; font-weight: 500; margin: 12px 0 6px; color: var(--primary-text-color); }
  input[type="search"] {
    width: 100%; box-sizing: border-box; padding: 8px 10px; font: inherit;
    border: 1px solid var(--divider-color, #ccc); border-radius: 6px;
    background: var(--card-background-color, #fff); color: var(--primary-text-color);
  }
  .people { list-style: none; margin: 6px 0 0; padding: 0; max-height: 168px; overflow-y: auto;
    border: 1px solid var(--divider-color, #ccc); border-radius: 6px; }
  .people li { margin: 0; }
  .people button { display: flex; justify-content: space-between; width: 100%; gap: 8px;
    padding: 8px 10px; border: 0; background: none; font: inherit; text-align: start;
    color: var(--primary-text-color); cursor: pointer; }
  .people button[aria-pressed="true"] { background: var(--primary-color); color: var(--text-primary-color, #fff); }
  .people .id { opacity: 0.7; }
  .empty { padding: 8px 10px; color: var(--secondary-text-color); }
  .hands { display: flex; justify-content: center; gap: 16px; flex-wrap: wrap; }
  .hand { display: flex; flex-direction: column; align-items: center; }
  .hand-shape { display: flex; align-items: flex-end; gap: 4px; }
  .palm-side { display: flex; flex-direction: column; align-items: center; }
  .hand-name { font-size: 0.85em; color: var(--secondary-text-color); margin-top: 4px; }
  .fingers { display: flex; align-items: flex-end; gap: 4px; }
  .palm { width: 100%; height: 44px; margin-top: 2px; border-radius: 6px 6px 36px 36px;
    background: var(--secondary-background-color, #eee); border: 1px solid var(--divider-color, #ccc);
    box-sizing: border-box; }
  .finger { width: 28px; min-height: 44px; border-radius: 14px 14px 4px 4px; font: inherit; font-size: 0.85em;
    display: flex; align-items: flex-start; justify-content: center; padding: 6px 0 0; box-sizing: border-box;
    border: 2px solid var(--divider-color, #bbb); background: var(--card-background-color, #fff);
    color: var(--primary-text-color); cursor: pointer; }
  .hand-shape > .finger { margin-bottom: 8px; border-radius: 14px; }
  .finger.enrolled { background: var(--success-color, #43a047); border-color: var(--success-color, #43a047); color: #fff; }
  .finger[aria-pressed="true"] { outline: 3px solid var(--primary-color); outline-offset: 2px;
    border-color: var(--primary-color); }
  .finger:disabled, button:disabled { cursor: default; opacity: 0.6; }
  button:focus-visible, input:focus-visible { outline: 3px solid var(--primary-color); outline-offset: 2px; }
  .legend { font-size: 0.85em; color: var(--secondary-text-color); text-align: center; margin: 8px 0 0; }
  .legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 3px;
    background: var(--success-color, #43a047); margin-inline-end: 4px; }
  .status { margin: 16px 0 0; min-height: 1.5em; line-height: 1.5; color: var(--primary-text-color); }
  .status[data-tone="good"] { color: var(--success-color, #2e7d32); }
  .status[data-tone="bad"] { color: var(--error-color, #c62828); }
  .presses { display: flex; gap: 8px; list-style: none; padding: 0; margin: 8px 0 0; }
  .presses li { flex: 1; text-align: center; padding: 6px 4px; border-radius: 6px; font-size: 0.85em;
    border: 1px solid var(--divider-color, #ccc); color: var(--secondary-text-color); }
  .presses li[data-done="true"] { background: var(--primary-color); border-color: var(--primary-color);
    color: var(--text-primary-color, #fff); }
  .hint { color: var(--warning-color, #b26a00); margin: 8px 0 0; }
  .actions { display: flex; gap: 8px; justify-content: flex-end; margin-top: 16px; }
  .actions button { padding: 8px 18px; border-radius: 18px; font: inherit; font-weight: 500; cursor: pointer;
    border: 1px solid var(--primary-color); }
  .start { background: var(--primary-color); color: var(--text-primary-color, #fff); }
  .cancel { background: none; color: var(--primary-color); }
`;

class ZKTecoEnrollCard extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: "open" });
    this._users = null;
    this._query = "";
    this._user = null;
    this._finger = null;
    this._enrolled = new Set();
    this._phase = "idle"; // idle, starting, waiting, done
    this._presses = 0;
    this._badPress = false;
    this._outcome = null;
    this._errorMessage = "";
    this._terminalId = null; // the config flow's device id, as the events name it
    // A Push terminal reports no presses: its own screen guides the person.
    this._reportsPresses = true;
    this._fingersUnread = false; // a running enrollment was picked up: fingers read after it
    this._unsubscribe = [];
    this._subscribed = Promise.resolve();
  }

  static getConfigElement() {
    return document.createElement("zkteco-enroll-card-editor");
  }

  static getStubConfig(hass) {
    const [first] = terminals(hass);
    return { device_id: first ? first.id : "" };
  }

  setConfig(config) {
    if (!config) throw new Error("Invalid configuration");
    const changed = !this._config || this._config.device_id !== config.device_id;
    this._config = config;
    if (changed) {
      this._users = null;
      this._user = null;
      this._finger = null;
      this._enrolled = new Set();
      this._loadedFor = null;
    }
    this._render();
    this._loadUsersOnce();
  }

  set hass(hass) {
    const first = !this._hass;
    const relanguaged = first || language(hass) !== language(this._hass);
    this._hass = hass;
    this._loadUsersOnce();
    if (this.isConnected && this._canEnroll() && !this._unsubscribe.length) this._subscribe();
    if (relanguaged) this._render();
  }

  connectedCallback() {
    if (this._hass && this._canEnroll() && !this._unsubscribe.length) this._subscribe();
  }

  disconnectedCallback() {
    for (const unsubscribe of this._unsubscribe) unsubscribe.then((stop) => stop()).catch(() => {});
    this._unsubscribe = [];
  }

  getCardSize() {
    return 9;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };
  }

  _t(key) {
    return STRINGS[language(this._hass)][key];
  }

  _canEnroll() {
    return Boolean(this._hass && this._hass.user && this._hass.user.is_admin && this._config && this._config.device_id);
  }

  _fingerName(index) {
    return this._t("finger_names")[index];
  }

  _loadUsersOnce() {
    if (this._canEnroll() && this._loadedFor !== this._config.device_id) this._loadUsers();
  }

  async _loadUsers() {
    const deviceId = this._config.device_id;
    this._loadedFor = deviceId;
    try {
      const answer = await this._hass.callWS({ type: "zkteco/users", device_id: deviceId });
      this._terminalId = answer.device_id;
      this._users = answer.users
        .slice()
        .sort((a, b) => (a.name || a.user_id).localeCompare(b.name || b.user_id) || a.user_id.localeCompare(b.user_id));
      // Read once the events are followed, so that nothing after it goes unseen.
      await this._subscribed;
      await this._pickUpEnrollment(deviceId);
    } catch (err) {
      this._users = this._users || [];
      this._showError(err);
    }
    this._render();
  }

  // A card opened (or reloaded) while the terminal waits for a finger follows that enrollment.
  async _pickUpEnrollment(deviceId) {
    const answer = await this._hass.callWS({ type: "zkteco/enrollment", device_id: deviceId });
    if (deviceId !== this._config.device_id) return;
    this._reportsPresses = answer.reports_presses;
    const running = answer.running;
    if (!running || this._busy()) return;
    this._user = this._users.find((user) => user.user_id === running.user_id) || { user_id: running.user_id, name: "" };
    this._finger = running.finger_index;
    this._presses = running.presses;
    this._badPress = false;
    this._outcome = null;
    this._phase = "waiting";
    this._fingersUnread = true;
  }

  async _loadFingers(userId) {
    this._enrolled = new Set();
    try {
      const answer = await this._hass.callWS({
        type: "zkteco/enrolled_fingers",
        device_id: this._config.device_id,
        user_id: userId,
      });
      if (this._user && this._user.user_id === answer.user_id) this._enrolled = new Set(answer.fingers);
    } catch (err) {
      this._showError(err);
    }
    this._render();
  }

  _subscribe() {
    const connection = this._hass.connection;
    this._unsubscribe = [
      connection.subscribeEvents((event) => this._onPress(event.data), "zkteco_enrollment_press"),
      connection.subscribeEvents((event) => this._onFinished(event.data), "zkteco_enrollment_finished"),
    ];
    for (const subscription of this._unsubscribe) subscription.catch(() => {});
    this._subscribed = Promise.all(this._unsubscribe).catch(() => {});
  }

  _ours(data) {
    return (
      (this._phase === "starting" || this._phase === "waiting") &&
      data.device_id === this._terminalId &&
      this._user &&
      data.user_id === this._user.user_id &&
      data.finger_index === this._finger
    );
  }

  _onPress(data) {
    if (!this._ours(data)) return;
    this._phase = "waiting";
    this._badPress = data.quality !== "good";
    if (!this._badPress) this._presses = data.press;
    this._render();
  }

  _onFinished(data) {
    if (!this._ours(data)) return;
    this._phase = "done";
    this._outcome = data.result;
    this._badPress = false;
    if (data.result === "success") this._enrolled.add(data.finger_index);
    if (this._fingersUnread) {
      this._fingersUnread = false;
      this._loadFingers(this._user.user_id);
    }
    this._render();
  }

  _showError(err) {
    this._phase = "done";
    const key = err && err.translation_key;
    this._outcome = START_ERRORS[key] || (key in this._t("outcome") ? key : "error");
    this._errorMessage = (err && err.message) || String(err);
    this._render();
  }

  async _start() {
    this._phase = "starting";
    this._presses = 0;
    this._badPress = false;
    this._outcome = null;
    this._render();
    try {
      await this._hass.callWS({
        type: "call_service",
        domain: DOMAIN,
        service: "enroll_finger",
        service_data: {
          device_id: this._config.device_id,
          user_id: this._user.user_id,
          finger_index: this._finger,
        },
      });
      if (this._phase === "starting") this._phase = "waiting";
      this._render();
    } catch (err) {
      this._showError(err);
    }
  }

  async _cancel() {
    try {
      await this._hass.callWS({
        type: "call_service",
        domain: DOMAIN,
        service: "cancel_enrollment",
        service_data: { device_id: this._config.device_id },
      });
    } catch (err) {
      this._showError(err);
      return;
    }
    // An enrollment this card did not start (another tab, before a reload) ends unseen by it.
    if (this._outcome === "busy") {
      this._outcome = "cancelled";
      // Its fingers could not be read while the terminal was busy.
      if (this._user) this._loadFingers(this._user.user_id);
      this._render();
    }
  }

  _choosePerson(user) {
    this._user = user;
    this._finger = null;
    this._phase = "idle";
    this._outcome = null;
    this._render();
    this._loadFingers(user.user_id);
  }

  _chooseFinger(index) {
    this._finger = index;
    if (this._phase === "done") {
      this._phase = "idle";
      this._outcome = null;
    }
    this._render();
  }

  _busy() {
    return this._phase === "starting" || this._phase === "waiting";
  }

  _mode() {
    if (!this._hass) return "loading";
    if (!this._hass.user || !this._hass.user.is_admin) return "admin-only";
    return this._config.device_id ? "enroll" : "no-terminal";
  }

  _render() {
    if (!this._config) return;
    const root = this.shadowRoot;
    const focused = focusKey(root.activeElement) || this._refocus;
    this._refocus = null;
    const layout = `${this._mode()} ${language(this._hass)}`;
    if (this._layout !== layout) this._build(layout);
    if (this._parts) {
      // Only what changes is drawn anew; the search box stays, with its caret and focus.
      this._parts.search.disabled = this._busy();
      this._parts.people.replaceChildren(this._renderPeople());
      this._parts.hands.replaceChildren(this._renderHands());
      this._parts.status.replaceChildren(this._renderStatus());
      this._parts.actions.replaceChildren(this._renderActions());
    }
    const again = focused && root.querySelector(focused);
    if (!again || again === root.activeElement) return;
    // Start and Cancel take turns being usable: the keyboard goes to whichever is.
    const usable = again.disabled && focused in FOCUS_INSTEAD ? root.querySelector(FOCUS_INSTEAD[focused]) : again;
    // Neither, while the terminal is asked to start: the focus waits for Cancel.
    if (usable.disabled) this._refocus = focused;
    else usable.focus();
  }

  _build(layout) {
    this._layout = layout;
    this._parts = null;
    const card = element("ha-card", {}, [element("h2", { text: this._t("title") })]);
    const mode = this._mode();
    if (mode === "admin-only") {
      card.append(element("p", { class: "notice", role: "status", "data-state": mode, text: this._t("admin_only") }));
    } else if (mode === "no-terminal") {
      card.append(element("p", { class: "notice", "data-state": mode, text: this._t("no_terminal") }));
    } else if (mode === "enroll") {
      this._parts = {
        search: element("input", {
          id: "search",
          type: "search",
          value: this._query,
          placeholder: this._t("search"),
          "aria-label": this._t("search"),
          oninput: (event) => {
            this._query = event.target.value;
            this._render();
          },
          // Typed letters are a search, not Home Assistant's shortcuts ("a" opens Assist).
          onkeydown: (event) => event.stopPropagation(),
        }),
        people: element("div"),
        hands: element("div"),
        statusLine: element("p", { class: "status", role: "status", "aria-live": "polite" }),
        status: element("div"),
        actions: element("div"),
      };
      const { search, people, hands, statusLine, status, actions } = this._parts;
      card.append(
        element("label", { for: "search", text: this._t("person") }),
        search,
        people,
        hands,
        statusLine,
        status,
        actions,
      );
    }
    this.shadowRoot.replaceChildren(element("style", { text: STYLE }), card);
  }

  _renderPeople() {
    if (this._users === null) return element("p", { class: "empty", role: "status", text: this._t("loading") });
    const query = this._query.trim().toLowerCase();
    const matching = this._users.filter(
      (user) => !query || (user.name || "").toLowerCase().includes(query) || user.user_id.toLowerCase().includes(query),
    );
    const list = element("ul", { class: "people", "aria-label": this._t("person") });
    for (const user of matching) {
      const chosen = Boolean(this._user && this._user.user_id === user.user_id);
      list.append(
        element("li", {}, [
          element(
            "button",
            {
              type: "button",
              "data-user": user.user_id,
              "aria-pressed": String(chosen),
              disabled: this._busy(),
              onclick: () => this._choosePerson(user),
            },
            [element("span", { text: user.name || user.user_id }), element("span", { class: "id", text: user.user_id })],
          ),
        ]),
      );
    }
    if (!matching.length) list.append(element("li", { class: "empty", text: this._t("no_people") }));
    return list;
  }

  _renderHands() {
    const section = element("div", { class: "hands-section" }, [
      element("span", { class: "label", id: "fingers-label", text: this._t("fingers") }),
    ]);
    const hands = element("div", { class: "hands", role: "group", "aria-labelledby": "fingers-label" });
    for (const hand of HANDS) {
      const fingers = element("div", { class: "fingers" }, hand.fingers.map((index) => this._fingerButton(index)));
      const palm = element("div", { class: "palm-side" }, [fingers, element("div", { class: "palm", "aria-hidden": "true" })]);
      const thumb = this._fingerButton(hand.thumb);
      hands.append(
        element("div", { class: "hand", role: "group", "aria-label": this._t(hand.key), "data-hand": hand.key }, [
          element("div", { class: "hand-shape" }, hand.key === "left" ? [palm, thumb] : [thumb, palm]),
          element("span", { class: "hand-name", "aria-hidden": "true", text: this._t(hand.key) }),
        ]),
      );
    }
    section.append(
      hands,
      element("p", { class: "legend", "aria-hidden": "true" }, [element("span", { class: "swatch" }), this._t("enrolled")]),
    );
    return section;
  }

  _fingerButton(index) {
    const enrolled = this._enrolled.has(index);
    const label = `${index}: ${this._fingerName(index)}${enrolled ? ` (${this._t("enrolled")})` : ""}`;
    return element("button", {
      type: "button",
      class: `finger${enrolled ? " enrolled" : ""}`,
      style: `height: ${Math.round(FINGER_HEIGHT * LENGTHS[index % 5])}px`,
      "data-finger": String(index),
      "data-enrolled": String(enrolled),
      "aria-pressed": String(this._finger === index),
      "aria-label": label,
      title: label,
      disabled: !this._user || this._busy(),
      text: String(index),
      onclick: () => this._chooseFinger(index),
    });
  }

  _renderStatus() {
    const values = {
      name: this._user ? this._user.name || this._user.user_id : "",
      finger: this._finger === null ? "" : this._fingerName(this._finger),
      message: this._errorMessage,
    };
    let text;
    let tone = "";
    if (this._phase === "starting") text = this._t("starting");
    else if (this._phase === "waiting") text = format(this._t(this._reportsPresses ? "place" : "follow_screen"), values);
    else if (this._phase === "done") {
      text = format(this._t("outcome")[this._outcome] || this._t("outcome").error, values);
      tone = this._outcome === "success" ? "good" : "bad";
    } else text = this._t("choose");
    // The same live region all along, so that screen readers announce each change.
    const line = this._parts.statusLine;
    line.textContent = text;
    line.dataset.phase = this._phase;
    line.dataset.outcome = this._outcome || "";
    line.dataset.tone = tone;
    const progress = element("div");
    if (this._reportsPresses && this._busy()) {
      const presses = element("ol", { class: "presses" });
      for (let n = 1; n <= PRESSES; n += 1) {
        const done = n <= this._presses;
        presses.append(
          element("li", { "data-done": String(done), text: format(this._t(done ? "press_done" : "press_n"), { n }) }),
        );
      }
      progress.append(presses);
      if (this._badPress) progress.append(element("p", { class: "hint", role: "alert", text: this._t("bad_press") }));
    }
    return progress;
  }

  _renderActions() {
    const ready = this._user && this._finger !== null && !this._busy();
    return element("div", { class: "actions" }, [
      element("button", {
        type: "button",
        class: "cancel",
        disabled: this._phase !== "waiting" && this._outcome !== "busy",
        text: this._t("cancel"),
        onclick: () => this._cancel(),
      }),
      element("button", {
        type: "button",
        class: "start",
        disabled: !ready,
        text: this._t("start"),
        onclick: () => this._start(),
      }),
    ]);
  }
}

class ZKTecoEnrollCardEditor extends HTMLElement {
  setConfig(config) {
    this._config = config;
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._render();
  }

  _render() {
    if (!this._hass || !this._config) return;
    if (!this.shadowRoot) this.attachShadow({ mode: "open" });
    const t = STRINGS[language(this._hass)];
    const options = terminals(this._hass);
    const style = element("style", {
      text: `label { display: block; font-weight: 500; margin-bottom: 6px; }
        select { width: 100%; padding: 8px; font: inherit; }`,
    });
    if (!options.length) {
      this.shadowRoot.replaceChildren(style, element("p", { text: t.editor_none }));
      return;
    }
    const select = element("select", {
      id: "terminal",
      onchange: (event) => {
        this._config = { ...this._config, device_id: event.target.value };
        this.dispatchEvent(new CustomEvent("config-changed", { detail: { config: this._config }, bubbles: true, composed: true }));
      },
    });
    for (const terminal of options) {
      select.append(element("option", { value: terminal.id, selected: terminal.id === this._config.device_id, text: terminal.name }));
    }
    this.shadowRoot.replaceChildren(style, element("label", { for: "terminal", text: t.editor_terminal }), select);
  }
}

function define() {
  if (customElements.get("zkteco-enroll-card")) return;
  customElements.define("zkteco-enroll-card", ZKTecoEnrollCard);
  customElements.define("zkteco-enroll-card-editor", ZKTecoEnrollCardEditor);
  window.customCards = window.customCards || [];
  window.customCards.push({
    type: "zkteco-enroll-card",
    name: "ZKTeco enrollment",
    description: STRINGS.en.picker_description,
    preview: false,
    documentationURL: "https://github.com/zkteco-ha/zkteco-homeassistant#enrollment-card",
  });
}

// Home Assistant's frontend replaces the element registry's methods as it boots (a scoped
// registry polyfill), and elements defined before that stay unknown to it. This module can run
// first, so it defines its elements once the frontend has defined its own root element.
customElements.whenDefined("home-assistant").then(define);

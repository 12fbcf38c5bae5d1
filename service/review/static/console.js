// threadguard reviewer console: keyboard shortcuts and in-place actions. Vanilla JS, no build step.
// Every action goes through the same form endpoints the no-script pages use, asking for JSON instead of
// a redirect, with the session's CSRF token in the X-CSRF-Token header.
(() => {
  "use strict";

  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
  const page = document.body.dataset.page;
  const help = document.getElementById("help");
  const picker = document.getElementById("picker");
  const toastBox = document.getElementById("toast");
  let toastTimer = 0;

  function toast(message, isError = false) {
    if (!toastBox) return;
    toastBox.textContent = message;
    toastBox.classList.toggle("error", isError);
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, isError ? 6000 : 2500);
  }

  async function post(url, fields) {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(fields)) {
      if (Array.isArray(value)) value.forEach((v) => body.append(key, v));
      else if (value !== undefined && value !== null) body.append(key, value);
    }
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      body,
    });
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON: reported below */ }
    if (!response.ok || !data.ok) {
      throw new Error(data.error || `The server answered ${response.status}.`);
    }
    return data;
  }

  // -- help overlay --------------------------------------------------------------------------------------
  function toggleHelp() {
    if (!help) return;
    if (help.open) help.close(); else help.showModal();
  }
  document.querySelectorAll("[data-help-toggle]").forEach((el) => el.addEventListener("click", toggleHelp));

  // -- reason picker ---------------------------------------------------------------------------------------
  // open(verb, target) resolves to {reason, note} or null when cancelled.
  const reasonPicker = (() => {
    if (!picker) return null;
    const form = picker.querySelector("form");
    const radios = [...picker.querySelectorAll('input[name="picker_reason"]')];
    const note = picker.querySelector('textarea[name="picker_note"]');
    let resolve = null;

    function finish(result) {
      const done = resolve;
      resolve = null;
      if (picker.open) picker.close();
      if (done) done(result);
    }
    function chosen() { return radios.find((r) => r.checked); }
    function confirm() {
      const reason = chosen();
      if (!reason) { toast("Choose a reason first: press 1–7.", true); return; }
      finish({ reason: reason.value, note: note.value.trim() });
    }

    picker.addEventListener("keydown", (event) => {
      if (event.target === note) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); confirm(); }
        return;
      }
      const radio = radios.find((r) => r.dataset.key === event.key);
      if (radio) {
        event.preventDefault();
        radio.checked = true;
        radio.focus();
      } else if (event.key === "Enter") {
        event.preventDefault();
        confirm();
      } else if (event.key === "n") {
        event.preventDefault();
        note.focus();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (event.submitter && event.submitter.value === "cancel") finish(null); else confirm();
    });
    picker.addEventListener("cancel", (event) => { event.preventDefault(); finish(null); });
    picker.addEventListener("close", () => finish(null));

    return {
      open(verb, target) {
        radios.forEach((r) => { r.checked = false; });
        note.value = "";
        picker.querySelector("[data-picker-verb]").textContent = verb;
        picker.querySelector("[data-picker-target]").textContent = target;
        picker.showModal();
        (radios[0] || note).focus();
        return new Promise((r) => { resolve = r; });
      },
    };
  })();

  const VERBS = { approve: "Approve", remove: "Remove", escalate: "Escalate" };
  const STATUS = { approve: "approved", remove: "removed", escalate: "escalated" };

  // Ask for a reason when the action needs one; null means the reviewer cancelled.
  async function decide(action, target) {
    if (action === "approve") return { reason: "", note: "" };
    if (!reasonPicker) return null;
    return reasonPicker.open(VERBS[action], target);
  }

  function typing(event) {
    const el = event.target;
    return el instanceof HTMLElement && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  }

  // -- queue page ------------------------------------------------------------------------------------------
  function setupQueue() {
    const table = document.querySelector("table.items");
    const rows = table ? [...table.querySelectorAll("tbody tr[data-item]")] : [];
    const returnQuery = table ? table.dataset.returnQuery : "";
    const bulkForm = document.getElementById("bulk-form");
    const selectedCount = document.querySelector("[data-selected-count]");
    const selectAll = document.querySelector("[data-select-all]");
    let current = -1;

    function checkbox(row) { return row.querySelector('input[type="checkbox"][name="ids"]'); }
    function selection() { return rows.filter((row) => checkbox(row).checked); }
    function refreshSelection() {
      rows.forEach((row) => row.classList.toggle("selected", checkbox(row).checked));
      const count = selection().length;
      if (selectedCount) selectedCount.textContent = String(count);
      if (bulkForm) bulkForm.classList.toggle("has-selection", count > 0);
    }
    function move(index) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, index));
      rows.forEach((row, i) => {
        row.classList.toggle("current", i === current);
        row.setAttribute("aria-current", i === current ? "true" : "false");
      });
      rows[current].focus({ preventScroll: true });
      rows[current].scrollIntoView({ block: "nearest" });
    }
    function currentRow() { return current >= 0 ? rows[current] : null; }
    function markDecided(row, action) {
      const status = STATUS[action];
      row.dataset.status = status;
      row.classList.add("decided");
      const badge = row.querySelector("[data-status-badge]");
      if (badge) {
        badge.textContent = status;
        badge.className = `badge status-badge status-${status}`;
      }
      checkbox(row).checked = false;
    }

    // bulk: the selection (one bulk id in the audit log); otherwise the single current row.
    // preset: {reason, note} from the bulk bar, so the picker is not needed.
    async function actOn(targetRows, action, bulk, preset = null) {
      if (!targetRows.length) { toast("Nothing selected: press x on rows to select them.", true); return; }
      const label = targetRows.length === 1 ? targetRows[0].dataset.name : `${targetRows.length} items`;
      const choice = preset || await decide(action, bulk ? `${label} (selection)` : label);
      if (!choice) { if (currentRow()) currentRow().focus(); return; }
      try {
        let data;
        if (!bulk) {
          data = await post(targetRows[0].dataset.actionUrl, {
            action, reason_code: choice.reason, note: choice.note, return_query: returnQuery,
          });
        } else {
          data = await post("/console/bulk", {
            action, reason_code: choice.reason, note: choice.note, ids: targetRows.map((r) => r.dataset.item),
          });
        }
        const updated = new Set(data.updated.map(String));
        targetRows.forEach((row) => { if (updated.has(row.dataset.item)) markDecided(row, action); });
        const skipped = Object.keys(data.skipped || {}).length;
        toast(`${VERBS[action]}d ${updated.size} item${updated.size === 1 ? "" : "s"}` +
              (skipped ? `, ${skipped} skipped` : "") + ".", skipped > 0 && updated.size === 0);
        refreshSelection();
        if (!bulk && current < rows.length - 1) move(current + 1);
        else if (currentRow()) currentRow().focus();
      } catch (error) {
        toast(error.message, true);
      }
    }

    rows.forEach((row, index) => {
      row.addEventListener("click", (event) => {
        if (event.target instanceof HTMLInputElement || event.target instanceof HTMLAnchorElement) return;
        move(index);
      });
      checkbox(row).addEventListener("change", refreshSelection);
    });
    if (selectAll) {
      selectAll.addEventListener("change", () => {
        rows.forEach((row) => { checkbox(row).checked = selectAll.checked; });
        refreshSelection();
      });
    }
    if (bulkForm) {
      // with scripts on, the bulk bar uses the same path as Shift+A/R/E (picker for reasons, no reload)
      bulkForm.addEventListener("submit", (event) => {
        const action = event.submitter && event.submitter.value;
        if (!action) return;
        event.preventDefault();
        const reason = bulkForm.querySelector('select[name="reason_code"]').value;
        const note = bulkForm.querySelector('input[name="note"]').value.trim();
        const preset = action === "approve" || reason ? { reason, note } : null;
        actOn(selection(), action, true, preset);
      });
    }
    refreshSelection();

    return (event) => {
      const key = event.key;
      if (key === "j" || key === "ArrowDown") { event.preventDefault(); move(current + 1); }
      else if (key === "k" || key === "ArrowUp") { event.preventDefault(); move(current < 0 ? 0 : current - 1); }
      else if ((key === "Enter" || key === "o") && currentRow()) { event.preventDefault(); window.location.href = currentRow().dataset.url; }
      else if (key === "x" && currentRow()) {
        event.preventDefault();
        const box = checkbox(currentRow());
        box.checked = !box.checked;
        refreshSelection();
      }
      else if (key === "a" || key === "r" || key === "e") {
        event.preventDefault();
        if (!currentRow()) move(0);
        if (currentRow()) actOn([currentRow()], { a: "approve", r: "remove", e: "escalate" }[key], false);
      }
      else if (key === "A" || key === "R" || key === "E") {
        event.preventDefault();
        actOn(selection(), { A: "approve", R: "remove", E: "escalate" }[key], true);
      }
      else return false;
      return true;
    };
  }

  // -- item page ---------------------------------------------------------------------------------------------
  function setupItem() {
    const article = document.querySelector("article.item");
    if (!article) return () => false;
    const form = document.querySelector("form.actions");

    async function act(action) {
      if (!form) { toast("This item was already decided; only an admin can change it.", true); return; }
      const choice = await decide(action, article.dataset.name);
      if (!choice) return;
      try {
        const data = await post(article.dataset.actionUrl, {
          action, reason_code: choice.reason, note: choice.note, return_query: article.dataset.returnQuery,
        });
        toast(`${VERBS[action]}d.`);
        window.location.href = data.next_url;
      } catch (error) {
        toast(error.message, true);
      }
    }
    if (form) {
      form.addEventListener("submit", (event) => {
        const action = event.submitter && event.submitter.value;
        const reason = form.querySelector('select[name="reason_code"]').value;
        if (!action || action === "approve" || reason) return; // the plain form has what it needs
        event.preventDefault();
        act(action);
      });
    }

    return (event) => {
      const key = event.key;
      if (key === "j" && article.dataset.nextUrl) window.location.href = article.dataset.nextUrl;
      else if (key === "k" && article.dataset.prevUrl) window.location.href = article.dataset.prevUrl;
      else if (key === "u") window.location.href = article.dataset.backUrl;
      else if (key === "a" || key === "r" || key === "e") act({ a: "approve", r: "remove", e: "escalate" }[key]);
      else if (key === "j" || key === "k") toast(key === "j" ? "This is the last item." : "This is the first item.");
      else return false;
      event.preventDefault();
      return true;
    };
  }

  const handler = page === "queue" ? setupQueue() : page === "item" ? setupItem() : () => false;

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (help && help.open) { // the help overlay closes with ? as well as Esc
      if (event.key === "?") { event.preventDefault(); help.close(); }
      return;
    }
    if (picker && picker.open) return; // the picker handles its own keys
    if (typing(event)) { if (event.key === "Escape") event.target.blur(); return; }
    if (event.key === "?") { event.preventDefault(); toggleHelp(); return; }
    handler(event);
  });
})();

// What every page shares: the service worker (the app shell offline), the theme toggle, and on
// the grid infinite scroll (the numbered pages stay for links and browsers without this) and
// selection for batch actions.

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}

// Theme: follows the system until the toggle picks light or dark; kept in a cookie so the server
// renders the next page in it (no flash).
const toggle = document.querySelector("[data-theme-toggle]");
if (toggle) {
  const order = ["auto", "light", "dark"];
  const label = () => {
    const now = document.documentElement.dataset.theme || "auto";
    toggle.textContent = toggle.dataset[now] || now;
    toggle.setAttribute("aria-label", `${toggle.dataset.label}: ${toggle.textContent}`);
  };
  toggle.hidden = false;
  label();
  toggle.addEventListener("click", () => {
    const now = document.documentElement.dataset.theme || "auto";
    const next = order[(order.indexOf(now) + 1) % order.length];
    if (next === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = next;
    document.cookie = `lp_theme=${next}; path=/; max-age=31536000; samesite=lax`;
    label();
  });
}

// The header's menu: a disclosure on phones (it works without a script); on wide screens its
// links stand in the header, always open.
const menu = document.querySelector("[data-menu]");
if (menu) {
  const wide = window.matchMedia("(min-width: 900px)");
  const fit = () => {
    menu.classList.toggle("wide", wide.matches);
    menu.open = wide.matches;
  };
  fit();
  wide.addEventListener("change", fit);
  document.addEventListener("click", (e) => {
    if (!wide.matches && menu.open && !menu.contains(e.target)) menu.open = false;
  });
}

const grid = document.querySelector(".grid[data-infinite]");
if (grid) {
  infinite(grid);
  selection(grid);
}

function infinite(grid) {
  let nav = document.querySelector("nav.pages");
  let next = nav?.querySelector("a[rel=next]")?.href;
  if (!next || !("IntersectionObserver" in window)) return;
  const sentinel = document.createElement("div");
  sentinel.className = "sentinel";
  grid.after(sentinel);
  let busy = false;
  const io = new IntersectionObserver(async (entries) => {
    if (busy || !next || !entries.some((e) => e.isIntersecting)) return;
    busy = true;
    try {
      const r = await fetch(next, { headers: { accept: "text/html" } });
      if (!r.ok) throw new Error(String(r.status));
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const cards = doc.querySelectorAll(".grid > .cell");
      grid.append(...[...cards].map((c) => document.importNode(c, true)));
      const newNav = doc.querySelector("nav.pages");
      if (newNav && nav) { nav.replaceWith(document.importNode(newNav, true)); }
      nav = document.querySelector("nav.pages");
      next = nav?.querySelector("a[rel=next]")?.href;
      grid.dispatchEvent(new Event("grown"));
    } catch {
      next = null; // the numbered links still work
    } finally {
      busy = false;
      if (!next) io.disconnect();
    }
  }, { rootMargin: "800px 0px" });
  io.observe(sentinel);
}

// Selection: the Select button turns clicks on covers into ticks; the batch bar acts on them.
function selection(grid) {
  const button = document.querySelector("[data-select]");
  const bar = document.querySelector("form.batch");
  if (!button || !bar) return;
  button.hidden = false;
  const count = bar.querySelector("[data-count]");
  const update = () => {
    const n = grid.querySelectorAll(".cell input[type=checkbox]:checked").length;
    count.textContent = String(n);
    bar.querySelectorAll("button").forEach((b) => { b.disabled = n === 0; });
  };
  button.addEventListener("click", () => {
    const on = !document.body.classList.contains("selecting");
    document.body.classList.toggle("selecting", on);
    button.setAttribute("aria-pressed", String(on));
    bar.hidden = !on;
    if (!on) grid.querySelectorAll(".cell input[type=checkbox]").forEach((c) => { c.checked = false; });
    update();
  });
  grid.addEventListener("click", (e) => {
    if (!document.body.classList.contains("selecting")) return;
    const card = e.target.closest(".cell");
    if (!card) return;
    const box = card.querySelector("input[type=checkbox]");
    if (e.target !== box) {
      e.preventDefault();
      box.checked = !box.checked;
    }
    update();
  });
  grid.addEventListener("change", update);
  grid.addEventListener("grown", update);
}

// A select marked data-autosubmit applies itself (its form's button stays for browsers without
// this module).
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form?.requestSubmit());
}

// An error page's "Back" goes to the previous page, where there is one.
for (const back of document.querySelectorAll("[data-history-back]")) {
  if (history.length > 1) {
    back.hidden = false;
    back.addEventListener("click", () => history.back());
  }
}

// The reader: keyboard and swipe navigation, preloading, and saving where the reader is.
// Loaded as a module; the page works without it (its links go to the previous and next pages).
const root = document.querySelector("[data-reader]");
if (root) {
  const prev = root.dataset.prev;
  const next = root.dataset.next;
  const go = (url) => { if (url) window.location.assign(url); };
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement) return;
    if (e.key === "ArrowRight" || e.key === " " || e.key === "PageDown") { e.preventDefault(); go(next); }
    else if (e.key === "ArrowLeft" || e.key === "PageUp") { e.preventDefault(); go(prev); }
    else if (e.key === "Home") go(root.dataset.first);
    else if (e.key === "End") go(root.dataset.last);
    else if (e.key === "f") {
      if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen();
    }
  });
  let startX = null;
  root.addEventListener("touchstart", (e) => { startX = e.changedTouches[0].clientX; }, { passive: true });
  root.addEventListener("touchend", (e) => {
    if (startX === null) return;
    const dx = e.changedTouches[0].clientX - startX;
    startX = null;
    if (Math.abs(dx) > 50) go(dx < 0 ? next : prev);
  });
  for (const src of (root.dataset.preload || "").split(" ").filter(Boolean)) {
    const img = new Image();
    img.src = src;
  }
  const csrf = document.querySelector("meta[name=csrf]")?.content;
  if (csrf && root.dataset.progress) {
    fetch(root.dataset.progress, {
      method: "PUT",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({ page: Number(root.dataset.page) }),
    }).catch(() => {});
  }
}

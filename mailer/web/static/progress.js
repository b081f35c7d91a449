// The progress page follows its send without reloading itself: every second it asks how far
// the send is and, when that changed, says it in the page's live region (a screen reader
// reads it out); at the end it shows the summary (the page once more).
(() => {
  const region = document.getElementById("progress");
  const bar = document.getElementById("bar");
  const url = region && region.dataset.follow;
  if (!url) return;
  const tick = async () => {
    try {
      const reply = await fetch(url, { headers: { Accept: "application/json" } });
      if (reply.ok) {
        const now = await reply.json();
        bar.max = now.max;
        bar.value = now.done;
        if (region.textContent !== now.text) region.textContent = now.text;
        if (now.finished) {
          location.reload();
          return;
        }
      }
    } catch (error) {
      // the daemon is restarting, or the network hiccuped: ask again
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
})();

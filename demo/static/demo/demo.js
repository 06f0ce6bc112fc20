// The demo site's router and buttons. Analytics is all in the script tag: this file
// only calls window.AscendKit the way a customer's code would.
(() => {
  const pages = JSON.parse(document.getElementById("demo-pages").textContent);
  const base = document.querySelector("a.brand").getAttribute("href");
  const ak = window.AscendKit;

  function log(text) {
    const item = document.createElement("li");
    item.textContent = new Date().toLocaleTimeString() + " " + text;
    document.getElementById("log").prepend(item);
  }

  function showVisitor() {
    document.getElementById("visitor").textContent = ak ? ak.visitorId() : "no script";
  }

  function show() {
    const name = location.pathname.slice(base.length) || "home";
    for (const section of document.querySelectorAll("section[data-page]")) section.hidden = section.dataset.page != name;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.name == name);
    document.title = (pages[name] || "Not found") + " · Acme (AscendKit demo)";
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-link]");
    if (link) {
      event.preventDefault();
      if (link.pathname != location.pathname) {
        history.pushState({}, "", link.href);
        show();
        log("pageview " + location.pathname);
      }
      return;
    }
    const button = event.target.closest("[data-track]");
    if (button && ak) {
      const { track, ...properties } = button.dataset;
      ak.track(track, properties);
      log("track app." + track + " " + JSON.stringify(properties));
    }
  });
  window.addEventListener("popstate", () => {
    show();
    log("pageview " + location.pathname + " (back/forward)");
  });

  document.getElementById("flush").addEventListener("click", async () => {
    if (!ak) return;
    await ak.flush();
    log("sent");
  });

  document.getElementById("signup").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!ak) return;
    const form = new FormData(event.target);
    const answer = await ak.signup({ name: form.get("name"), email: form.get("email"), password: form.get("password") });
    const account = document.getElementById("account");
    if (answer.user) {
      account.textContent = `Signed up as ${answer.user.id} (${answer.user.status}). Your visits so far are linked to this user; `
        + "what you click now goes to /v1/events as the user.";
      document.getElementById("logout").hidden = !answer.token;
      log("signup " + answer.user.id);
    } else {
      account.textContent = answer.error ? answer.error.message : "Signup failed.";
    }
  });

  document.getElementById("logout").addEventListener("click", async () => {
    await ak.logout();
    document.getElementById("logout").hidden = true;
    document.getElementById("account").textContent = "Logged out: a new visitor ID starts now.";
    showVisitor();
    log("logout");
  });

  show();
  showVisitor();
  if (ak) log("pageview " + location.pathname);
})();

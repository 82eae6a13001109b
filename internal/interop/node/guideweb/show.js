// Not part of the guide: shows what the guide's snippets log on the page
// itself, one line per console.log call (strings as they are, other values
// as JSON), so that the test reads what a person would see.
(() => {
  const out = document.getElementById("out");
  const show = (level, args) => {
    const line = args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" ");
    out.textContent += (level === "error" ? "ERROR " : "") + line + "\n";
  };
  for (const level of ["log", "error"]) {
    const orig = console[level].bind(console);
    console[level] = (...args) => { show(level, args); orig(...args); };
  }
})();

// agenthost dashboard: progressive enhancement only; every page works without it.
"use strict";
document.addEventListener("click", function (ev) {
	var b = ev.target.closest("[data-copy]");
	if (!b) return;
	var el = document.getElementById(b.getAttribute("data-copy"));
	if (!el) return;
	var text = el.value !== undefined ? el.value : el.textContent;
	if (navigator.clipboard) {
		navigator.clipboard.writeText(text).then(function () { b.textContent = "Copied"; });
	} else if (el.select) {
		el.select();
		document.execCommand("copy");
		b.textContent = "Copied";
	}
});
document.addEventListener("submit", function (ev) {
	var msg = ev.target.getAttribute("data-confirm");
	if (msg && !window.confirm(msg)) ev.preventDefault();
});
// invoice: a Print button (data-print); without JS the browser's own Print does the same.
document.addEventListener("click", function (ev) {
	if (ev.target.closest("[data-print]")) window.print();
});

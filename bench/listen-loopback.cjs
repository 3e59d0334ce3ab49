// bench/listen-loopback.cjs: preloaded into a Node server that has no option for its
// listen address (Portkey's gateway listens on every interface) so that the benchmarks
// keep everything on 127.0.0.1: a TCP listen without a host gets host 127.0.0.1.
//
//   node --require bench/listen-loopback.cjs SERVER.js ...
"use strict";
const net = require("node:net");

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
	const a = args[0];
	if (a !== null && typeof a === "object" && !Array.isArray(a)) {
		if (a.path === undefined && a.host === undefined && a.fd === undefined &&
		    a.handle === undefined && a._handle === undefined)
			args[0] = { ...a, host: "127.0.0.1" };
	} else if (typeof a === "number" || (typeof a === "string" && /^\d+$/.test(a))) {
		if (typeof args[1] !== "string")
			args.splice(1, args[1] === undefined ? 1 : 0, "127.0.0.1");
	}
	return listen.apply(this, args);
};

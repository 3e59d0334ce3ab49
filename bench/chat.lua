-- bench/chat.lua: the wrk script of bench/admission.sh.
--
-- Every request is the same mock chat completion (no network, a fixed answer
-- length), so the only difference between two runs is what agenthost does
-- around the model call. At the end the latency distribution and the counts
-- are written as "name=value" lines to $BENCH_OUT for admission.sh to read.
--
-- Environment: BENCH_KEY (the API key; never printed), BENCH_OUT (result file).

local key = os.getenv("BENCH_KEY")
local out = os.getenv("BENCH_OUT")
if key == nil or key == "" or out == nil or out == "" then
	error("chat.lua: BENCH_KEY and BENCH_OUT must be set")
end

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"mock-1","max_tokens":32,'
	.. '"messages":[{"role":"user","content":"[mock:words=16] benchmark request"}]}'

function done(summary, latency, requests)
	local f = assert(io.open(out, "w"))
	local e = summary.errors
	f:write(string.format("requests=%d\n", summary.requests))
	f:write(string.format("duration_us=%d\n", summary.duration))
	f:write(string.format("errors_connect=%d\nerrors_read=%d\nerrors_write=%d\n",
		e.connect, e.read, e.write))
	f:write(string.format("errors_status=%d\nerrors_timeout=%d\n", e.status, e.timeout))
	f:write(string.format("lat_mean_us=%.1f\nlat_max_us=%d\n", latency.mean, latency.max))
	for _, p in ipairs({ 50, 90, 99, 99.9 }) do
		local name = (tostring(p):gsub("%.", "_"))
		f:write(string.format("lat_p%s_us=%d\n", name, latency:percentile(p)))
	end
	f:close()
end

-- bench/chat.lua: the wrk script of the benchmarks in bench/.
--
-- Every request is the same chat completion (by default the mock provider's:
-- no network, a fixed answer length), so the only difference between two runs
-- is what the server does around the model call. At the end the latency
-- distribution and the counts are written as "name=value" lines to $BENCH_OUT
-- for the caller to read.
--
-- Environment:
--   BENCH_KEY        the API key (never printed), or
--   BENCH_KEYS_FILE  a file of API keys, one per line (never printed): each wrk
--                    thread sends them round-robin, one key per request, each
--                    thread starting at a different place in the list
--   BENCH_BODY       the request body (default: mock-1, 16 words, max_tokens 32)
--   BENCH_HEADERS    more request headers, "Name: value" lines (e.g. a peer
--                    gateway's routing headers); sent with every request
--   BENCH_OUT        result file

local key = os.getenv("BENCH_KEY")
local keys_file = os.getenv("BENCH_KEYS_FILE")
local out = os.getenv("BENCH_OUT")
if keys_file == "" then
	keys_file = nil
end
if (keys_file == nil and (key == nil or key == "")) or out == nil or out == "" then
	error("chat.lua: BENCH_KEY or BENCH_KEYS_FILE, and BENCH_OUT must be set")
end

local body = os.getenv("BENCH_BODY")
if body == nil or body == "" then
	body = '{"model":"mock-1","max_tokens":32,'
		.. '"messages":[{"role":"user","content":"[mock:words=16] benchmark request"}]}'
end

-- The headers of every request but Authorization: the content type and BENCH_HEADERS.
local extra = { ["Content-Type"] = "application/json" }
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
	local name, value = line:match("^%s*([^:%s]+)%s*:%s*(.-)%s*$")
	if name == nil then
		error("chat.lua: BENCH_HEADERS: expected 'Name: value' lines")
	end
	extra[name] = value
end

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
for name, value in pairs(extra) do
	wrk.headers[name] = value
end
wrk.body = body

if keys_file == nil then
	-- One key: a static request, formatted once by wrk.
	wrk.headers["Authorization"] = "Bearer " .. key
else
	-- Several keys: every request is pre-formatted here, request() only picks
	-- the next one, so the per-request cost in wrk is the same whatever the
	-- number of keys (a one-line file costs what a thousand-line one does).
	local next_thread = 0

	function setup(thread)
		thread:set("thread_index", next_thread)
		next_thread = next_thread + 1
	end

	local reqs, n, i = {}, 0, 0

	function init(args)
		local f = io.open(keys_file, "r")
		if f == nil then
			error("chat.lua: cannot open BENCH_KEYS_FILE")
		end
		for line in f:lines() do
			local k = line:match("^%s*(%S+)%s*$")
			if k then
				n = n + 1
				-- wrk.format takes the headers given instead of wrk.headers
				-- (Host apart), so the other headers are repeated here
				local h = { ["Authorization"] = "Bearer " .. k }
				for name, value in pairs(extra) do
					h[name] = value
				end
				reqs[n] = wrk.format(nil, nil, h, nil)
			end
		end
		f:close()
		if n == 0 then
			error("chat.lua: BENCH_KEYS_FILE holds no key")
		end
		-- spread the threads' starting points over the list
		i = ((thread_index or 0) * 7919) % n
	end

	function request()
		i = i % n + 1
		return reqs[i]
	end
end

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

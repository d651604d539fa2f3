-- wrk script: a mix of uploads, cycled in order.  MIX_SPECS lists them,
-- one a line, each "path|file|content-type|weight".
local reqs = {}

function init(args)
    for spec in string.gmatch(os.getenv("MIX_SPECS"), "[^\n]+") do
        local path, file, ctype, weight =
            string.match(spec, "([^|]+)|([^|]+)|([^|]+)|(%d+)")
        local f = assert(io.open(file, "rb"))
        local body = f:read("*a")
        f:close()
        local r = wrk.format("POST", path, { ["Content-Type"] = ctype }, body)
        for _ = 1, tonumber(weight) do
            table.insert(reqs, r)
        end
    end
end

local i = 0

function request()
    i = i + 1
    return reqs[(i % #reqs) + 1]
end

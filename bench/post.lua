-- wrk script: POST the file named by BODY_FILE
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/octet-stream"
f:close()

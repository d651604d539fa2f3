-- wrk script: POST the file named by BODY_FILE, as CONTENT_TYPE
local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE")
                              or "application/octet-stream"
f:close()

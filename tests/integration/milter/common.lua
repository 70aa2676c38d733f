-- common.lua - shared miltertest helpers for the cutover-milter tests.
--
-- Globals set by the caller with -D: SOCKET (milter spec), MSG (message
-- file, LF or CRLF), IP, HELO, MAILFROM, RCPT; optional AUTHEN (SMTP AUTH
-- name, sent as {auth_authen}).
-- Functions: open_conn(), send_message(conn), finish(conn), ar(conn),
-- check(cond, what).  Every failure is error(): miltertest exits non-zero
-- and the Python side shows the message.

function check(cond, what)
	if not cond then
		error("check failed: " .. what)
	end
end

-- Connect and negotiate; the milter must ask for header leading spaces.
function open_conn()
	local conn = mt.connect(SOCKET, 50, 0.1)
	check(conn ~= nil, "mt.connect(" .. SOCKET .. ")")
	check(mt.negotiate(conn, nil, nil, nil) == nil, "negotiate")
	return conn
end

local function read_file(path)
	local f = assert(io.open(path, "rb"))
	local data = f:read("*a")
	f:close()
	return (data:gsub("\r\n", "\n"))
end

-- Header fields of a message (folding kept as LF), and its body (CRLF).
local function split_message(data)
	local sep = data:find("\n\n", 1, true)
	local head = sep and data:sub(1, sep) or data
	local body = sep and data:sub(sep + 2) or ""
	local fields = {}
	for line in head:gmatch("([^\n]*)\n") do
		if line:match("^[ \t]") and #fields > 0 then
			fields[#fields] = fields[#fields] .. "\n" .. line
		elseif line ~= "" then
			fields[#fields + 1] = line
		end
	end
	return fields, (body:gsub("\n", "\r\n"))
end

-- Run a protocol step unless the filter negotiated it away (flag).
local function step(conn, flag, what, fn, ...)
	if flag ~= nil and mt.test_option(conn, flag) then
		return
	end
	local err = fn(conn, ...)
	check(err == nil, what .. ": " .. tostring(err))
end

-- Connection info, HELO, MAIL, RCPT, headers, body.  Returns false when
-- the filter accepted the message early (a trusted peer, SMTP AUTH).
function send_message(conn)
	step(conn, SMFIP_NOCONNECT, "conninfo", mt.conninfo, "client.test", IP)
	if mt.getreply(conn) == SMFIR_ACCEPT then
		return false
	end
	step(conn, SMFIP_NOHELO, "helo", mt.helo, HELO)
	if AUTHEN ~= nil then
		mt.macro(conn, SMFIC_MAIL, "i", "TESTQID", "{auth_authen}", AUTHEN)
	else
		mt.macro(conn, SMFIC_MAIL, "i", "TESTQID")
	end
	step(conn, SMFIP_NOMAIL, "mailfrom", mt.mailfrom, MAILFROM)
	if mt.getreply(conn) == SMFIR_ACCEPT then
		return false
	end
	step(conn, SMFIP_NORCPT, "rcptto", mt.rcptto, "<" .. RCPT .. ">")
	local fields, body = split_message(read_file(MSG))
	for _, f in ipairs(fields) do
		local name, value = f:match("^([^:]+):(.*)$")
		check(name ~= nil, "header field with a colon: " .. f)
		if not mt.test_option(conn, SMFIP_HDR_LEADSPC) then
			value = value:gsub("^ ", "")
		end
		step(conn, SMFIP_NOHDRS, "header " .. name, mt.header, name, value)
	end
	step(conn, SMFIP_NOEOH, "eoh", mt.eoh)
	if body ~= "" then
		step(conn, SMFIP_NOBODY, "body", mt.bodystring, body)
	end
	return true
end

-- Run fn() and turn any Lua error into a printed line and exit status 1
-- (miltertest itself exits 1 silently).
function run(fn)
	local ok, err = pcall(fn)
	if not ok then
		mt.echo("ERROR: " .. tostring(err))
		os.exit(1)
	end
end

function finish(conn)
	check(mt.eom(conn) == nil, "eom")
end

-- The Authentication-Results value we inserted, echoed for the Python side.
function ar(conn)
	check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"),
	    "an Authentication-Results field was inserted")
	local v = mt.getheader(conn, "Authentication-Results", 0)
	check(v ~= nil, "getheader Authentication-Results")
	mt.echo("AR:" .. v:gsub("\n", "\\n"))
	return v
end
